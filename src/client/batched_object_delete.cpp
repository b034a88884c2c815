#include "client/batched_object_delete.h"

#include <algorithm>
#include <memory>
#include <utility>

namespace lmcache::client {
namespace {

// The state of one logical delete, shared by the chain of request callbacks.
struct BatchedDelete : std::enable_shared_from_this<BatchedDelete> {
  MpClient& client;
  MpEndpoint to;
  std::vector<core::ObjectKey> keys;
  std::string tier;
  bool force = false;
  size_t max_per_request = kMaxKeysPerDelete;
  std::function<void(BatchedDeleteResult)> done;
  size_t next = 0;  // index of the first key not sent yet
  BatchedDeleteResult result;

  BatchedDelete(MpClient& c, MpEndpoint endpoint) : client(c), to(std::move(endpoint)) {}

  void send_next() {
    if (next >= keys.size()) return finish();
    const size_t count = std::min(max_per_request, keys.size() - next);
    std::vector<core::ObjectKeyView> views(
        keys.begin() + static_cast<std::ptrdiff_t>(next),
        keys.begin() + static_cast<std::ptrdiff_t>(next + count));
    next += count;
    ++result.requests;
    client.delete_objects(to, views, tier, force,
                          [self = shared_from_this()](MpDeleteObjectsResult answer) {
                            self->on_answer(std::move(answer));
                          });
  }

  void on_answer(MpDeleteObjectsResult answer) {
    if (!answer.ok()) {
      result.error = std::move(answer.error);
      return finish();
    }
    if (!answer.answer) {
      result.error = "malformed answer: " + answer.response.body.substr(0, 200);
      return finish();
    }
    result.deleted += answer.answer->deleted;
    result.skipped += answer.answer->skipped;
    send_next();
  }

  void finish() {
    auto callback = std::move(done);
    if (callback) callback(std::move(result));
  }
};

}  // namespace

void delete_objects_in_batches(MpClient& client, const MpEndpoint& to,
                               std::vector<core::ObjectKey> keys, std::string tier, bool force,
                               std::function<void(BatchedDeleteResult)> done,
                               size_t max_keys_per_request) {
  auto state = std::make_shared<BatchedDelete>(client, to);
  state->keys = std::move(keys);
  state->tier = std::move(tier);
  state->force = force;
  state->max_per_request = std::max<size_t>(1, max_keys_per_request);
  state->done = std::move(done);
  state->send_next();
}

}  // namespace lmcache::client
