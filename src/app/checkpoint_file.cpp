#include "app/checkpoint_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "blake3.h"

namespace lmcache::app {

namespace {

constexpr std::string_view kMagic("LMCCKPT\0", 8);
constexpr std::string_view kEndMagic("LMCCKEND", 8);
constexpr size_t kHeaderBytes = 16;
constexpr size_t kTrailerBytes = 8 + BLAKE3_OUT_LEN + 8;

std::string errno_text(const char* what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

bool write_all(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Syncs the folder holding `path`, so a rename in it survives a crash.
void sync_folder(const std::string& path) {
  std::string folder = std::filesystem::path(path).parent_path().string();
  if (folder.empty()) folder = ".";
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

CheckpointFile::WriteResult CheckpointFile::write(
    const std::string& path, const std::function<bool(core::SnapshotWriter&)>& write_body) {
  WriteResult result;
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    result.error = errno_text("cannot create", tmp);
    return result;
  }
  std::array<char, kHeaderBytes> header{};
  std::memcpy(header.data(), kMagic.data(), kMagic.size());
  const uint32_t version = kVersion;
  std::memcpy(header.data() + 8, &version, sizeof version);
  bool ok = write_all(fd, header.data(), header.size());

  blake3_hasher hasher;
  blake3_hasher_init(&hasher);
  core::SnapshotWriter body([&](std::string_view bytes) {
    blake3_hasher_update(&hasher, bytes.data(), bytes.size());
    return write_all(fd, bytes.data(), bytes.size());
  });
  ok = ok && write_body(body) && body.finish();

  std::array<char, kTrailerBytes> trailer{};
  const uint64_t body_bytes = body.written();
  std::memcpy(trailer.data(), &body_bytes, sizeof body_bytes);
  blake3_hasher_finalize(&hasher, reinterpret_cast<uint8_t*>(trailer.data() + 8), BLAKE3_OUT_LEN);
  std::memcpy(trailer.data() + 8 + BLAKE3_OUT_LEN, kEndMagic.data(), kEndMagic.size());
  ok = ok && write_all(fd, trailer.data(), trailer.size());
  if (!ok) result.error = errno_text("cannot write", tmp);
  if (ok && ::fsync(fd) != 0) {
    result.error = errno_text("cannot sync", tmp);
    ok = false;
  }
  ::close(fd);
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    result.error = errno_text("cannot rename over", path);
    ok = false;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return result;
  }
  sync_folder(path);
  result.bytes = kHeaderBytes + body_bytes + kTrailerBytes;
  return result;
}

CheckpointFile::Loaded::~Loaded() {
  if (map_ != nullptr) ::munmap(map_, size_);
}

std::unique_ptr<CheckpointFile::Loaded> CheckpointFile::load(const std::string& path,
                                                             std::string& error, bool& missing) {
  missing = false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    missing = errno == ENOENT;
    error = errno_text("cannot open", path);
    return nullptr;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = errno_text("cannot stat", path);
    ::close(fd);
    return nullptr;
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size < kHeaderBytes + kTrailerBytes) {
    error = path + " is too short to be a checkpoint (" + std::to_string(size) + " bytes)";
    ::close(fd);
    return nullptr;
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    error = errno_text("cannot map", path);
    return nullptr;
  }
  std::unique_ptr<Loaded> loaded(new Loaded(map, size, {}));
  const std::string_view bytes(static_cast<const char*>(map), size);
  uint32_t version = 0;
  uint32_t reserved = 0;
  std::memcpy(&version, bytes.data() + 8, sizeof version);
  std::memcpy(&reserved, bytes.data() + 12, sizeof reserved);
  const std::string_view trailer = bytes.substr(size - kTrailerBytes);
  uint64_t body_bytes = 0;
  std::memcpy(&body_bytes, trailer.data(), sizeof body_bytes);
  if (bytes.substr(0, 8) != kMagic || trailer.substr(8 + BLAKE3_OUT_LEN) != kEndMagic) {
    error = path + " is not a checkpoint or is torn (magic)";
    return nullptr;
  }
  if (version != kVersion || reserved != 0) {
    error = path + " has checkpoint format version " + std::to_string(version) + "." +
            std::to_string(reserved) + ", expected " + std::to_string(kVersion) + ".0";
    return nullptr;
  }
  if (body_bytes != size - kHeaderBytes - kTrailerBytes) {
    error = path + " is torn: its trailer gives " + std::to_string(body_bytes) +
            " body bytes, the file holds " + std::to_string(size - kHeaderBytes - kTrailerBytes);
    return nullptr;
  }
  const std::string_view body = bytes.substr(kHeaderBytes, body_bytes);
  std::array<uint8_t, BLAKE3_OUT_LEN> digest{};
  blake3_hasher hasher;
  blake3_hasher_init(&hasher);
  blake3_hasher_update(&hasher, body.data(), body.size());
  blake3_hasher_finalize(&hasher, digest.data(), digest.size());
  if (std::memcmp(digest.data(), trailer.data() + 8, digest.size()) != 0) {
    error = path + " is corrupt: its BLAKE3 digest does not match its body";
    return nullptr;
  }
  loaded->body_ = body;
  return loaded;
}

}  // namespace lmcache::app
