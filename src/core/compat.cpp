#include "layerwise/core/compat.h"

#include "layerwise/core/error.h"

namespace layerwise::compat {

torch::Device parse_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  LW_CHECK(name.rfind("cuda", 0) == 0, "unknown device '", name,
           "' (--device); use cpu or cuda[:N]");
  LW_CHECK(cuda_available(), "device ", name,
           ": no CUDA device is usable in this build or on this machine");
  try {
    return torch::Device(name);
  } catch (const c10::Error&) {
    throw Error(str_cat("unknown device '", name, "' (--device); use cpu or cuda[:N]"));
  }
}

}  // namespace layerwise::compat
