// CheckpointFile: the file a checkpoint of the derived state is written to and loaded from.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/snapshot_stream.h"

namespace lmcache::app {

// Layout: the magic "LMCCKPT\0", a u32 format version and a u32 zero; the body (what the state
// objects' save() wrote); then a trailer of the body's u64 length, its 32-byte BLAKE3 digest and
// the magic "LMCCKEND". A file that is short, has another magic or version, or whose digest does
// not match its body is refused whole, so a torn or corrupt checkpoint never loads in part.
//
// Written to `<path>.tmp-<pid>`, synced, then renamed over `path` (and the folder synced), so
// `path` holds either the previous checkpoint or the new one, never a mix.
class CheckpointFile {
 public:
  // 2: the body holds the blend index and feed after the ingest (core::DerivedState). A file of
  // another version is refused like a corrupt one: the start is cold.
  static constexpr uint32_t kVersion = 2;

  // Writes a checkpoint whose body `write_body` produces. Returns the bytes written (the file's
  // size), or an error message (nothing replaced `path` then). Plain blocking file I/O: for a
  // forked child or a clean stop, never for an event loop thread.
  struct WriteResult {
    uint64_t bytes = 0;
    std::string error;  // empty on success
  };
  static WriteResult write(const std::string& path,
                           const std::function<bool(core::SnapshotWriter&)>& write_body);

  // A checkpoint read back and checked; its body stays mapped as long as this object lives.
  class Loaded {
   public:
    ~Loaded();
    Loaded(const Loaded&) = delete;
    Loaded& operator=(const Loaded&) = delete;
    std::string_view body() const { return body_; }
    uint64_t file_bytes() const { return size_; }

   private:
    friend class CheckpointFile;
    Loaded(void* map, uint64_t size, std::string_view body) : map_(map), size_(size), body_(body) {}
    void* map_;
    uint64_t size_;
    std::string_view body_;
  };

  // Reads and checks `path`. Null, with the reason in `error`, when it is missing ("missing" is
  // then reported with `missing` set), unreadable, torn or corrupt.
  static std::unique_ptr<Loaded> load(const std::string& path, std::string& error, bool& missing);
};

}  // namespace lmcache::app
