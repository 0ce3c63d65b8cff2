// libFuzzer target: the tokenizer files on arbitrary bytes, each tokenizer then encoding a fixed
// text (ASCII, accents, CJK, emoji, invalid UTF-8) so that the encoders run on fuzzed
// vocabularies. The first byte picks the reader (modulo 3: WordPiece vocab.txt; GPT-2 vocab.json
// and merges.txt, split at the first NUL byte; layerwise's own tokenizer.json, whose decode must
// give the text back); the rest is the file content. Any input must either load and encode or
// raise layerwise::Error; anything else is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "layerwise/core/error.h"
#include "layerwise/data/hf_tokenizers.h"
#include "layerwise/data/tokenizer.h"

namespace {

const std::string kText =
    "Hello, world! It's 2024: naïve café — ÀÉÎ straße İ ΣΑΣ 東京タワー 😀\t\r\n  tabs\tand "
    "  spaces don't   stop; unaffable ##x [UNK] <|endoftext|> \xff\xfe bad \xc3 utf-8";

void write(const std::string& path, const uint8_t* data, size_t size) {
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return;
  std::fwrite(data, 1, size, file);
  std::fclose(file);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The readers take paths: files of this process in memory-backed /dev/shm.
  static const std::string path = "/dev/shm/layerwise_fuzz_tokenizer_" + std::to_string(::getpid());
  static const std::string merges_path = path + ".merges";
  const uint8_t* content = data + 1;
  const size_t length = size - 1;
  try {
    switch (data[0] % 3) {
      case 0: {
        write(path, content, length);
        const auto wordpiece = layerwise::data::WordPieceTokenizer::load(path);
        (void)wordpiece.encode(kText);
        break;
      }
      case 1: {
        const auto* nul = static_cast<const uint8_t*>(std::memchr(content, 0, length));
        const size_t vocab_length = nul ? size_t(nul - content) : length;
        write(path, content, vocab_length);
        write(merges_path, content + vocab_length + (nul ? 1 : 0),
              length - vocab_length - (nul ? 1 : 0));
        const auto bpe = layerwise::data::ByteLevelBpeTokenizer::load(path, merges_path);
        (void)bpe.decode(bpe.encode(kText));
        break;
      }
      default: {
        write(path, content, length);
        const auto own = layerwise::data::Tokenizer::load(path);
        if (own.decode(own.encode(kText)) != kText) std::abort();  // encode must lose nothing
        break;
      }
    }
  } catch (const layerwise::Error&) {
  }
  return 0;
}
