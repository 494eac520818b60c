// sr2-demo-model DIR: writes a small random Llama (DIR/model) and random calibration and
// evaluation token files (DIR/data) so sr2 can be tried without downloading anything.
#include <cstdio>
#include <string>

#include "common/model/synthetic_llama.h"
#include "common/store/store_factory.h"

int main(int argc, char** argv) {
  if (argc != 2 || std::string(argv[1]).rfind("-", 0) == 0) {
    std::fprintf(stderr, "usage: sr2-demo-model DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  auto model = sr2::OpenStore(dir + "/model");
  auto data = sr2::OpenStore(dir + "/data");
  absl::Status s = model.ok() ? (data.ok() ? absl::OkStatus() : data.status()) : model.status();
  if (s.ok()) s = sr2::WriteSyntheticLlama(sr2::SyntheticLlamaOptions{}, **model, **data);
  if (!s.ok()) {
    std::fprintf(stderr, "sr2-demo-model: error: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("%s/model\n", dir.c_str());
  return 0;
}
