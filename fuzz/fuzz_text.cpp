// libFuzzer target: the text corpus readers on arbitrary bytes. The first byte picks the reader
// (even: load_jsonl, odd: load_text_file), the rest is the file; a loaded corpus is then split as
// the data pipeline splits it. Any input must either load or raise layerwise::Error (invalid JSON
// and invalid UTF-8 included); anything else is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "layerwise/core/error.h"
#include "layerwise/data/text_corpus.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The readers take a path: the bytes go to a file of this process in memory-backed /dev/shm.
  static const std::string path = "/dev/shm/layerwise_fuzz_text_" + std::to_string(::getpid());
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return 0;
  std::fwrite(data + 1, 1, size - 1, file);
  std::fclose(file);
  try {
    const auto corpus = data[0] % 2 == 0 ? layerwise::data::load_jsonl(path)
                                         : layerwise::data::load_text_file(path);
    const auto splits = layerwise::data::split_corpus(corpus, 0.1, 0.1, /*seed=*/0);
    (void)splits.train.texts.size();
  } catch (const layerwise::Error&) {
  }
  return 0;
}
