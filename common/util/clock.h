// Time behind an interface, so lease and retry logic can be tested with a fake clock.
#pragma once

#include <chrono>
#include <cstdint>

namespace sr2 {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic milliseconds (for deadlines).
  virtual int64_t NowMs() const = 0;
  // Wall-clock Unix milliseconds (for timestamps shown to users).
  virtual int64_t UnixMs() const = 0;
};

class SystemClock : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  int64_t UnixMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static SystemClock* Default() {
    static SystemClock clock;
    return &clock;
  }
};

}  // namespace sr2
