#include "worker/tasks/activation_io.h"

#include <string_view>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/store/blob.h"
#include "common/tensor/safetensors.h"
#include "common/util/status_macros.h"

namespace sr2::worker {

absl::Status SaveActivation(ObjectStore& store, const std::string& key, const torch::Tensor& x) {
  const torch::Tensor cpu = x.to(torch::kCPU, torch::kFloat32).contiguous();
  const std::string_view bytes(static_cast<const char*>(cpu.data_ptr()),
                               cpu.numel() * sizeof(float));
  SR2_ASSIGN_OR_RETURN(std::string file,
                       SerializeSafetensors({{"x", DType::kF32, cpu.sizes().vec(), bytes}}));
  return store.Write(key, file);
}

absl::StatusOr<torch::Tensor> LoadActivation(ObjectStore& store, const std::string& key,
                                             torch::Device device) {
  SR2_ASSIGN_OR_RETURN(BlobPtr blob, store.Read(key));
  SR2_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Parse(blob, key));
  const TensorInfo* info = file.Find("x");
  if (info == nullptr || info->dtype != DType::kF32 || info->shape.size() != 3) {
    return absl::DataLossError(absl::StrCat("activation file ", key, " has no F32 [n,seq,h] x"));
  }
  const std::string_view bytes = file.Bytes(*info);
  return torch::from_blob(const_cast<char*>(bytes.data()), info->shape, torch::kFloat32)
      .to(device, /*non_blocking=*/false, /*copy=*/true);
}

}  // namespace sr2::worker
