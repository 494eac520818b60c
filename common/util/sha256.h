// SHA-256 (OpenSSL) for manifests and test checks.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace sr2 {

// Lower-case hex digest of `data`.
std::string Sha256Hex(std::string_view data);

// Incremental hashing for streamed writes.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  void Update(std::string_view data);
  std::string FinishHex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sr2
