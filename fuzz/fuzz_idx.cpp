// libFuzzer target: the IDX reader (MNIST-style datasets, plain or gzip-compressed, told apart by
// the 1f 8b magic) on arbitrary bytes. Any input must either load or raise layerwise::Error; a
// crash, a sanitizer report, a leak or a huge allocation is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "layerwise/core/error.h"
#include "layerwise/data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The reader takes a path: the bytes go to a file of this process in memory-backed /dev/shm.
  static const std::string path = "/dev/shm/layerwise_fuzz_idx_" + std::to_string(::getpid());
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return 0;
  std::fwrite(data, 1, size, file);
  std::fclose(file);
  try {
    const auto images = layerwise::data::read_idx(path);
    (void)images.sizes();
  } catch (const layerwise::Error&) {
  }
  return 0;
}
