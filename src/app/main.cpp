// `lmcache coordinator`: the LMCache multi-process mode coordinator.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>

#include "app/allocator_tuning.h"
#include "app/coordinator_app.h"
#include "app/coordinator_config.h"
#include "http/tls_context.h"

int main(int argc, char** argv) {
  using namespace lmcache::app;
  keep_freed_heap_memory();
  const ConfigOutcome outcome = parse_coordinator_command_line(argc, argv, process_environment());
  if (const auto* exit = std::get_if<ConfigExit>(&outcome)) {
    std::fprintf(exit->code == 0 ? stdout : stderr, "%s\n", exit->message.c_str());
    return exit->code;
  }
  const auto& config = std::get<CoordinatorConfig>(outcome);

  auto logger = spdlog::stderr_logger_mt("coordinator");
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  try {
    CoordinatorApp app(config);
    return app.run();
  } catch (const lmcache::http::TlsSetupError& error) {  // a bad --tls-* file: a bad setting
    spdlog::critical("cannot start the coordinator: {}", error.what());
    return 2;
  } catch (const std::exception& error) {
    spdlog::critical("cannot start the coordinator: {}", error.what());
    return 1;
  }
}
