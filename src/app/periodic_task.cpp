#include "app/periodic_task.h"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

namespace lmcache::app {

struct PeriodicTask::State : std::enable_shared_from_this<PeriodicTask::State> {
  // The timer lives on a strand of the executor: its completions and the posted start and stop
  // never run at once, even when several threads run the io_context (stop() comes from the
  // shutdown handler while a run may be in progress on another thread).
  State(const boost::asio::any_io_executor& executor, Clock::duration interval, Callback callback)
      : timer(boost::asio::make_strand(executor)),
        interval(interval),
        callback(std::move(callback)) {}

  void arm() {
    due = Clock::now() + interval;
    timer.expires_at(due);
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->stopped) return;
      const auto lateness = Clock::now() - self->due;
      self->callback(lateness);
      if (!self->stopped) self->arm();
    });
  }

  boost::asio::steady_timer timer;
  Clock::duration interval;
  Callback callback;
  Clock::time_point due;
  bool stopped = false;  // touched only on the timer's strand
};

PeriodicTask::PeriodicTask(const boost::asio::any_io_executor& executor, Clock::duration interval,
                           Callback callback)
    : state_(std::make_shared<State>(executor, interval, std::move(callback))) {}

PeriodicTask::~PeriodicTask() { stop(); }

void PeriodicTask::start() {
  boost::asio::post(state_->timer.get_executor(), [state = state_] { state->arm(); });
}

void PeriodicTask::stop() {
  boost::asio::post(state_->timer.get_executor(), [state = state_] {
    state->stopped = true;
    state->timer.cancel();
  });
}

}  // namespace lmcache::app
