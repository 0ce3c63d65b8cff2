// libFuzzer target: the readers of a Hugging Face checkpoint's settings on arbitrary bytes. The
// first byte picks the file (even: config.json, read as `import` and `train --init` read it into
// a model configuration; odd: preprocessor_config.json, read with the normalization the data
// pipeline takes from it), the rest is its content. Any input must either load or raise
// layerwise::Error (invalid JSON included); anything else is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/data/hf_image_processor.h"
#include "layerwise/data/image_pipeline.h"
#include "layerwise/data/task_data.h"
#include "layerwise/model/config.h"
#include "layerwise/model/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The readers take a folder: one of this process in memory-backed /dev/shm.
  static const std::string dir = "/dev/shm/layerwise_fuzz_hf_" + std::to_string(::getpid());
  static const bool made = (layerwise::make_directories(dir), true);
  (void)made;
  const bool config = data[0] % 2 == 0;
  const std::string path = dir + (config ? "/config.json" : "/preprocessor_config.json");
  std::remove((dir + "/config.json").c_str());
  std::remove((dir + "/preprocessor_config.json").c_str());
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return 0;
  std::fwrite(data + 1, 1, size - 1, file);
  std::fclose(file);
  try {
    if (config) {
      (void)layerwise::model::is_hf_checkpoint_dir(dir);
      const auto hf = layerwise::model::read_hf_config(dir);
      (void)layerwise::model::to_json(hf.model);
    } else {
      const auto processor = layerwise::data::read_hf_image_processor(dir);
      layerwise::data::DataConfig data;  // the pipeline it implies, as import builds it
      layerwise::data::apply_image_processor(processor, 3, data);
      (void)layerwise::data::image_pipeline(data, 3);
    }
  } catch (const layerwise::Error&) {
  }
  return 0;
}
