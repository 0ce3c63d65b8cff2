#include "cli.h"

#include "layerwise/core/compat.h"
#include "layerwise/core/error.h"

namespace layerwise::cli {

torch::Device parse_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  LW_CHECK(name.rfind("cuda", 0) == 0, "unknown --device '", name, "'; use cpu or cuda[:N]");
  LW_CHECK(compat::cuda_available(), "--device ", name,
           ": no CUDA device is usable in this build or on this machine");
  return torch::Device(name);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace layerwise::cli
