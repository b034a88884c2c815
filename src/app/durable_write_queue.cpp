#include "app/durable_write_queue.h"

#include <spdlog/spdlog.h>

#include <boost/beast/http/field.hpp>

#include "core/quota_store.h"
#include "http/json_response.h"

namespace lmcache::app {
namespace {

namespace beast_http = boost::beast::http;

http::HttpResponse not_stored(std::string_view why) {
  http::HttpResponse response = http::detail_response(
      beast_http::status::service_unavailable, "the change was not stored: " + std::string(why));
  response.set(beast_http::field::retry_after, "1");
  return response;
}

// Puts `value` back into the local state; a failure is logged (the state file is not used in
// HA mode, so this is the in-memory apply that cannot fail in practice).
void restore(const DurableKey& key, const std::optional<std::string>& value) {
  try {
    key.restore(value);
  } catch (const core::QuotaStoreError& error) {
    spdlog::error("HA: could not undo a change of {}: {}", key.etcd_key, error.what());
  }
}

}  // namespace

void DurableWriteQueue::Actions::run() {
  for (auto& [respond, response] : answers) respond(std::move(response));
  if (send) send();
}

DurableWriteQueue::DurableWriteQueue(Write write) : write_(std::move(write)) {}

http::Respond DurableWriteQueue::admit(DurableKey key, http::Respond respond) {
  core::MutexLock lock(mu_);
  const std::string etcd_key = key.etcd_key;
  auto [it, fresh] = chains_.try_emplace(etcd_key);
  Chain& chain = it->second;
  if (fresh) {  // no write of the key is outstanding: the local value is what etcd holds
    chain.committed = key.read();
    chain.key = std::move(key);
  }
  const uint64_t id = ++next_id_;
  chain.tickets.push_back(Ticket{id, std::move(respond), std::nullopt, false, chain.failed});
  return [this, etcd_key, id](http::HttpResponse response) {
    answered(etcd_key, id, std::move(response));
  };
}

size_t DurableWriteQueue::busy_keys() const {
  core::MutexLock lock(mu_);
  return chains_.size();
}

void DurableWriteQueue::answered(const std::string& etcd_key, uint64_t id,
                                 http::HttpResponse response) {
  Actions actions;
  {
    core::MutexLock lock(mu_);
    Chain& chain = chains_.at(etcd_key);
    auto ticket = chain.tickets.begin();
    while (ticket->id != id) ++ticket;
    const bool changed = response.result_int() / 100 == 2;
    if (ticket->doomed || !changed) {
      if (ticket->doomed && changed) {
        restore(chain.key, chain.committed);
        response = not_stored("an earlier change of the same key could not be stored");
      }
      actions.answers.emplace_back(std::move(ticket->respond), std::move(response));
      chain.tickets.erase(ticket);
      if (chain.tickets.empty()) chain.failed = false;
    } else {
      ticket->response = std::move(response);
    }
    pump(chain, actions);
    forget_if_idle(etcd_key);
  }
  actions.run();
}

void DurableWriteQueue::pump(Chain& chain, Actions& actions) {
  if (chain.in_flight || chain.failed || chain.tickets.empty()) return;
  if (!chain.tickets.front().response) return;  // its route has not answered yet
  // Every answered ticket up to the first unanswered one rides on this write: the value read
  // now holds their changes.
  for (Ticket& ticket : chain.tickets) {
    if (!ticket.response) break;
    ticket.in_write = true;
  }
  chain.in_flight = true;
  std::optional<std::string> value = chain.key.read();
  actions.send = [this, etcd_key = chain.key.etcd_key, value = std::move(value)] {
    write_(etcd_key, value,
           [this, etcd_key, value](const std::string& error) { written(etcd_key, value, error); });
  };
}

void DurableWriteQueue::written(const std::string& etcd_key,
                                const std::optional<std::string>& value, const std::string& error) {
  Actions actions;
  {
    core::MutexLock lock(mu_);
    Chain& chain = chains_.at(etcd_key);
    chain.in_flight = false;
    if (error.empty()) {
      chain.committed = value;
      while (!chain.tickets.empty() && chain.tickets.front().in_write) {
        Ticket& ticket = chain.tickets.front();
        actions.answers.emplace_back(std::move(ticket.respond), std::move(*ticket.response));
        chain.tickets.pop_front();
      }
    } else {
      spdlog::warn("HA: {} not stored in etcd: {}", etcd_key, error);
      restore(chain.key, chain.committed);
      std::deque<Ticket> outstanding;
      for (Ticket& ticket : chain.tickets) {
        if (ticket.response) {
          actions.answers.emplace_back(std::move(ticket.respond), not_stored(error));
        } else {
          ticket.doomed = true;
          outstanding.push_back(std::move(ticket));
        }
      }
      chain.tickets = std::move(outstanding);
      chain.failed = !chain.tickets.empty();
    }
    pump(chain, actions);
    forget_if_idle(etcd_key);
  }
  actions.run();
}

void DurableWriteQueue::forget_if_idle(const std::string& etcd_key) {
  auto it = chains_.find(etcd_key);
  if (it != chains_.end() && it->second.tickets.empty() && !it->second.in_flight) {
    chains_.erase(it);
  }
}

}  // namespace lmcache::app
