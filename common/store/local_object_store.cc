#include "common/store/local_object_store.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/util/status_macros.h"

namespace sr2 {
namespace {

namespace fs = std::filesystem;

// Temporary files of unfinished writes start with this; List never reports them.
constexpr char kTempPrefix[] = ".sr2-tmp-";

absl::Status PosixError(absl::string_view operation, const std::string& path) {
  return absl::ErrnoToStatus(errno, absl::StrCat(operation, " ", path));
}

absl::Status FsError(absl::string_view operation, const std::string& path,
                     const std::error_code& error) {
  return absl::Status(absl::ErrnoToStatusCode(error.value()),
                      absl::StrCat(operation, " ", path, ": ", error.message()));
}

// Maps a whole file read-only; empty files have no mapping.
class MappedBlob : public Blob {
 public:
  MappedBlob(void* data, size_t size) : data_(data), size_(size) {}
  ~MappedBlob() override {
    if (size_ > 0) munmap(data_, size_);
  }
  MappedBlob(const MappedBlob&) = delete;
  MappedBlob& operator=(const MappedBlob&) = delete;
  const uint8_t* data() const override { return static_cast<const uint8_t*>(data_); }
  size_t size() const override { return size_; }

 private:
  void* data_;
  size_t size_;
};

// Closes a file descriptor on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

absl::Status FsyncFolder(const std::string& folder) {
  int fd = open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return PosixError("opening folder", folder);
  FdCloser closer(fd);
  if (fsync(fd) != 0) return PosixError("syncing folder", folder);
  return absl::OkStatus();
}

// Writes into a temporary file beside the target and renames it into place on Close().
class LocalObjectWriter : public ObjectWriter {
 public:
  LocalObjectWriter(int fd, std::string temp_path, std::string final_path)
      : fd_(fd), temp_path_(std::move(temp_path)), final_path_(std::move(final_path)) {}

  ~LocalObjectWriter() override {
    if (fd_ >= 0) close(fd_);
    if (!committed_) unlink(temp_path_.c_str());
  }
  LocalObjectWriter(const LocalObjectWriter&) = delete;
  LocalObjectWriter& operator=(const LocalObjectWriter&) = delete;

  absl::Status Append(std::string_view data) override {
    if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(final_path_, ": writer closed"));
    while (!data.empty()) {
      ssize_t written = write(fd_, data.data(), data.size());
      if (written < 0) {
        if (errno == EINTR) continue;
        return PosixError("writing", temp_path_);
      }
      data.remove_prefix(static_cast<size_t>(written));
    }
    return absl::OkStatus();
  }

  absl::Status Close() override {
    if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(final_path_, ": writer closed"));
    int fd = fd_;
    fd_ = -1;
    if (fsync(fd) != 0) {
      absl::Status status = PosixError("syncing", temp_path_);
      close(fd);
      return status;
    }
    if (close(fd) != 0) return PosixError("closing", temp_path_);
    if (rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
      return PosixError(absl::StrCat("renaming ", temp_path_, " to"), final_path_);
    }
    committed_ = true;
    return FsyncFolder(fs::path(final_path_).parent_path().string());
  }

 private:
  int fd_;
  std::string temp_path_;
  std::string final_path_;
  bool committed_ = false;
};

}  // namespace

std::shared_ptr<LocalObjectStore> LocalObjectStore::Create(std::string root) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return std::shared_ptr<LocalObjectStore>(new LocalObjectStore(std::move(root)));
}

std::string LocalObjectStore::PathOf(std::string_view key) const {
  return absl::StrCat(root_, "/", std::string(key));
}

absl::StatusOr<BlobPtr> LocalObjectStore::Read(std::string_view key) {
  SR2_RETURN_IF_ERROR(ValidateKey(key));
  const std::string path = PathOf(key);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError("opening", path);
  FdCloser closer(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) return PosixError("inspecting", path);
  if (!S_ISREG(st.st_mode)) return absl::NotFoundError(absl::StrCat(path, " is not a file"));
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) return MakeStringBlob("");
  void* data = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (data == MAP_FAILED) return PosixError("mapping", path);
  return std::make_shared<MappedBlob>(data, size);
}

absl::StatusOr<std::string> LocalObjectStore::ReadRange(std::string_view key, uint64_t offset,
                                                        uint64_t length) {
  SR2_RETURN_IF_ERROR(ValidateKey(key));
  const std::string path = PathOf(key);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError("opening", path);
  FdCloser closer(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) return PosixError("inspecting", path);
  if (!S_ISREG(st.st_mode)) return absl::NotFoundError(absl::StrCat(path, " is not a file"));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset > size || length > size - offset) {
    return absl::OutOfRangeError(absl::StrCat("reading ", length, " bytes at offset ", offset,
                                              " of ", path, ", which has only ", size, " bytes"));
  }
  std::string out(length, '\0');
  uint64_t done = 0;
  while (done < length) {
    ssize_t got = pread(fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return PosixError("reading", path);
    }
    if (got == 0) {
      return absl::OutOfRangeError(absl::StrCat(path, " shrank while being read"));
    }
    done += static_cast<uint64_t>(got);
  }
  return out;
}

absl::StatusOr<uint64_t> LocalObjectStore::Size(std::string_view key) {
  SR2_RETURN_IF_ERROR(ValidateKey(key));
  const std::string path = PathOf(key);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return PosixError("inspecting", path);
  if (!S_ISREG(st.st_mode)) return absl::NotFoundError(absl::StrCat(path, " is not a file"));
  return static_cast<uint64_t>(st.st_size);
}

absl::Status LocalObjectStore::Write(std::string_view key, std::string_view data) {
  SR2_ASSIGN_OR_RETURN(std::unique_ptr<ObjectWriter> writer, NewWriter(key));
  SR2_RETURN_IF_ERROR(writer->Append(data));
  return writer->Close();
}

absl::StatusOr<std::unique_ptr<ObjectWriter>> LocalObjectStore::NewWriter(std::string_view key) {
  SR2_RETURN_IF_ERROR(ValidateKey(key));
  const fs::path path(PathOf(key));
  const std::string folder = path.parent_path().string();
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) return FsError("creating folder", folder, error);
  std::string temp_path =
      absl::StrCat(folder, "/", kTempPrefix, path.filename().string(), ".XXXXXX");
  int fd = mkostemp(temp_path.data(), O_CLOEXEC);
  if (fd < 0) return PosixError("creating temporary file", temp_path);
  // mkostemp creates 0600; published objects get the usual 0666 & ~umask like any file.
  const mode_t mask = umask(0);
  umask(mask);
  fchmod(fd, 0666 & ~mask);
  return std::make_unique<LocalObjectWriter>(fd, std::move(temp_path), path.string());
}

absl::StatusOr<std::vector<std::string>> LocalObjectStore::List(std::string_view prefix) {
  SR2_RETURN_IF_ERROR(ValidateKeyPrefix(prefix));
  // Only the folder named by the prefix's complete segments needs walking.
  const size_t slash = prefix.rfind('/');
  const std::string start =
      slash == std::string_view::npos ? root_ : PathOf(prefix.substr(0, slash));
  std::vector<std::string> keys;
  std::error_code error;
  if (!fs::is_directory(start, error)) return keys;
  const fs::path root(root_);
  fs::recursive_directory_iterator it(start, error), end;
  for (; !error && it != end; it.increment(error)) {
    if (!it->is_regular_file(error)) continue;
    if (it->path().filename().string().rfind(kTempPrefix, 0) == 0) continue;
    std::string key = it->path().lexically_relative(root).generic_string();
    if (key.compare(0, prefix.size(), prefix) == 0) keys.push_back(std::move(key));
  }
  if (error) return FsError("listing", start, error);
  std::sort(keys.begin(), keys.end());
  return keys;
}

absl::Status LocalObjectStore::Delete(std::string_view key) {
  SR2_RETURN_IF_ERROR(ValidateKey(key));
  const std::string path = PathOf(key);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return PosixError("deleting", path);
  return absl::OkStatus();
}

absl::Status LocalObjectStore::DeletePrefix(std::string_view prefix) {
  SR2_RETURN_IF_ERROR(ValidateKey(prefix));
  const std::string path = PathOf(prefix);
  std::error_code error;
  if (!fs::is_directory(path, error)) return absl::OkStatus();
  fs::remove_all(path, error);
  if (error) return FsError("deleting", path, error);
  return absl::OkStatus();
}

absl::Status LocalObjectStore::Publish(std::string_view from, std::string_view to) {
  SR2_RETURN_IF_ERROR(ValidateKey(from));
  SR2_RETURN_IF_ERROR(ValidateKey(to));
  const std::string from_path = PathOf(from);
  const std::string to_path = PathOf(to);
  std::error_code error;
  if (!fs::is_directory(from_path, error)) {
    return absl::NotFoundError(absl::StrCat("publishing ", from_path, ": no such folder"));
  }
  const std::string to_parent = fs::path(to_path).parent_path().string();
  fs::create_directories(to_parent, error);
  if (error) return FsError("creating folder", to_parent, error);
  // rename(2) replaces only an empty folder, so a non-empty `to` is detected atomically.
  if (rename(from_path.c_str(), to_path.c_str()) != 0) {
    if (errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR || errno == EISDIR) {
      return absl::FailedPreconditionError(
          absl::StrCat("publishing ", from_path, ": ", to_path, " already exists"));
    }
    return PosixError(absl::StrCat("renaming ", from_path, " to"), to_path);
  }
  return FsyncFolder(to_parent);
}

}  // namespace sr2
