// The tokenizer of a text run as the data pipeline uses it: the ids of a text and the special ids
// that frame documents. Kinds (DataConfig::tokenizer):
//   bpe, byte   the project's own, RUN/tokenizer.json (trained on the training split if absent)
//   wordpiece   BERT's, RUN/vocab.txt: [CLS] text [SEP] then [PAD]; lower-cased unless
//               RUN/tokenizer_config.json says "do_lower_case": false
//   gpt2        GPT-2's byte-level BPE, RUN/vocab.json + RUN/merges.txt: documents joined by
//               <|endoftext|>
// wordpiece and gpt2 are what `layerwise import` gives runs of imported BERT and GPT-2 models.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "layerwise/data/task_data.h"

namespace layerwise::data {

struct TextCodec {
  /// At most max_ids ids of the text (no special tokens); max_ids < 0: all.
  std::function<std::vector<int64_t>(const std::string& text, int64_t max_ids)> encode;
  int64_t vocab_size = 0;
  int64_t pad = -1;            // padding id (-1: none; then the codec cannot classify)
  int64_t first = -1;          // classify: the id before the text (<cls>, [CLS])
  int64_t last = -1;           // classify: the id after the text ([SEP]); -1: none
  int64_t bos = -1, eos = -1;  // lm: around each document; -1: none
};

/// The run's codec. bpe and byte without RUN/tokenizer.json: trained on train_texts (when given)
/// and saved there. Throws layerwise::Error naming a missing or malformed file.
TextCodec run_text_codec(const DataConfig& config, const std::string& run_dir,
                         const std::vector<std::string>* train_texts);

/// The files of a Hugging Face tokenizer kind that a run folder holds (wordpiece: vocab.txt and
/// tokenizer_config.json if present; gpt2: vocab.json, merges.txt; none for bpe and byte).
std::vector<std::string> hf_tokenizer_files(TokenizerKind kind);

}  // namespace layerwise::data
