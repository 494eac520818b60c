// A read-only byte range whose owner (an mmap, a downloaded buffer) lives as long as the Blob.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace sr2 {

class Blob {
 public:
  virtual ~Blob() = default;
  virtual const uint8_t* data() const = 0;
  virtual size_t size() const = 0;
  std::string_view view() const {
    return std::string_view(reinterpret_cast<const char*>(data()), size());
  }
};
using BlobPtr = std::shared_ptr<const Blob>;

// A Blob that owns a std::string.
class StringBlob : public Blob {
 public:
  explicit StringBlob(std::string bytes) : bytes_(std::move(bytes)) {}
  const uint8_t* data() const override { return reinterpret_cast<const uint8_t*>(bytes_.data()); }
  size_t size() const override { return bytes_.size(); }

 private:
  std::string bytes_;
};

inline BlobPtr MakeStringBlob(std::string bytes) {
  return std::make_shared<StringBlob>(std::move(bytes));
}

}  // namespace sr2
