// libFuzzer target: the readers of a run folder's JSON files on arbitrary bytes. The first byte
// picks the file (modulo 6: trainer_state.json, eval.json, similarity.json, exit.json,
// metrics.jsonl, config.json), the rest is its content. The trainer state is read as --resume and
// `finished` read it; the others as `layerwise report` reads them, by writing a report of a run
// folder that holds that one file next to a valid config.json. Any input must either give a report
// (a state) or raise layerwise::Error; anything else (a LibTorch or nlohmann-json exception
// included) is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/core/run_dir.h"
#include "layerwise/core/staged_folder.h"
#include "layerwise/report/html_report.h"

namespace {

// A run's config.json as `layerwise train` writes it, shortened to what the report shows.
const char* const kConfig = R"json({"data": {"dataset": "fashion-mnist"},
 "model": {"arch": "vit", "d_model": 32, "n_heads": 2, "n_layers": 2, "pool": "cls"},
 "objective": "aligned",
 "train": {"augment": "flip", "batch_size": 64, "epochs": 1, "lr": 0.001, "weight_decay": 0.05},
 "version": "0.1.0 (git 387842b)"}
)json";

const char* const kFiles[] = {"trainer_state.json", "eval.json",     "similarity.json",
                              "exit.json",          "metrics.jsonl", "config.json"};

void write(const std::string& path, const uint8_t* data, size_t size) {
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return;
  std::fwrite(data, 1, size, file);
  std::fclose(file);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // A run folder and the report's folder of this process in memory-backed /dev/shm.
  static const std::string root = "/dev/shm/layerwise_fuzz_run_json_" + std::to_string(::getpid());
  static const layerwise::RunDir run(root + "/run");
  layerwise::remove_folder(root);
  layerwise::make_directories(run.path());
  const std::string file = kFiles[data[0] % 6];
  if (file != "config.json")
    write(run.config(), reinterpret_cast<const uint8_t*>(kConfig),
          std::char_traits<char>::length(kConfig));
  write(run.file(file), data + 1, size - 1);
  try {
    if (file == "trainer_state.json") {
      (void)run.finished();  // reads the state through RunDir, as `train --resume` does
    } else {
      (void)layerwise::report::write_report({run.path()}, root + "/report.html");
    }
  } catch (const layerwise::Error&) {
  }
  return 0;
}
