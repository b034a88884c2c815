// A fixture for unit tests of code that talks to etcd: a real etcd on a loopback port and an
// EtcdClient on an io_context this thread runs (skipped only when /usr/bin/etcd is missing).
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "client/etcd_client.h"
#include "etcd_process.h"

namespace lmcache::testing {

class EtcdClientFixture : public ::testing::Test {
 protected:
  // A derived SetUp calls this first and returns when IsSkipped().
  void SetUp() override {
    if (!EtcdProcess::available()) GTEST_SKIP() << EtcdProcess::kBinary << " is not installed";
    etcd_process_ = std::make_unique<EtcdProcess>();
    etcd_ = std::make_unique<client::EtcdClient>(
        io_.get_executor(),
        std::vector<client::MpEndpoint>{{"127.0.0.1", etcd_process_->client_port()}});
  }

  // Runs the io_context on this thread until `done` holds; false after `timeout`.
  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(std::chrono::milliseconds(10));
    }
    return done();
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::unique_ptr<EtcdProcess> etcd_process_;
  std::unique_ptr<client::EtcdClient> etcd_;
};

}  // namespace lmcache::testing
