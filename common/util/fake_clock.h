// A Clock for tests: both readings stand still until Advance.
#pragma once

#include <cstdint>

#include "common/util/clock.h"

namespace sr2 {

class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1000) : now_(start_ms) {}
  int64_t NowMs() const override { return now_; }
  int64_t UnixMs() const override { return now_; }
  void Advance(int64_t ms) { now_ += ms; }

 private:
  int64_t now_;
};

}  // namespace sr2
