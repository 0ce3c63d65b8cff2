// Text datasets as run data: the corpus, its deterministic splits, the run's tokenizer, and the
// token tensors for classification (one sequence per document) or language modelling (windows of
// the concatenated documents).
#include <algorithm>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/data/task_data.h"
#include "layerwise/data/text_codec.h"
#include "layerwise/data/text_corpus.h"
#include "layerwise/data/tokenizer.h"

namespace layerwise::data {

namespace {

void check_text_config(const DataConfig& c) {
  validate(c);
  LW_CHECK(c.tokenizer != TokenizerKind::bpe || c.vocab_size > kByteVocab,
           "data.vocab_size must be > ", kByteVocab, " (specials and bytes) for bpe, got ",
           c.vocab_size);
  LW_CHECK(c.classes.empty(), "data.classes selects image classes; text datasets take data.labels");
  LW_CHECK(c.val_fraction + c.test_fraction < 1,
           "data.val_fraction and data.test_fraction must sum below 1, got ", c.val_fraction,
           " and ", c.test_fraction);
}

TextCorpus load_corpus(const DataConfig& c) {
  if (c.dataset == Dataset::spam_assassin)
    return load_spam_assassin(c.dir.empty() ? default_spam_assassin_dir() : c.dir, c.labels,
                              c.strip_headers);
  LW_CHECK(!c.dir.empty(), "dataset ", c.dataset, " needs data.dir: the ",
           c.dataset == Dataset::jsonl
               ? "JSON Lines file ({\"text\": ..., \"label\": ...} per line)"
               : "plain text file (documents separated by blank lines)");
  return c.dataset == Dataset::jsonl ? load_jsonl(c.dir) : load_text_file(c.dir);
}

TextSplits corpus_splits(const DataConfig& c) {
  auto corpus = load_corpus(c);
  LW_CHECK(c.task == Task::lm || !corpus.labels.empty(), "dataset ", c.dataset,
           " has no labels to classify; train a text_decoder (task lm) on it");
  if (c.task == Task::lm)
    corpus.labels.clear();  // language modelling splits documents unstratified
  return split_corpus(corpus, c.val_fraction, c.test_fraction, c.split_seed);
}

TextCorpus corpus_split(const DataConfig& c, const std::string& split) {
  LW_CHECK(split == "test" || split == "train" || split == "val", "split '", split,
           "' is not known; use test, val or train");
  auto parts = corpus_splits(c);
  return split == "train" ? parts.train : split == "val" ? parts.val : parts.test;
}

// Classification: first + tokens (+ last), truncated and padded to max_len: (N, max_len), (N).
Examples encode_documents(const DataConfig& c, const TextCodec& codec, const TextCorpus& corpus) {
  LW_CHECK(codec.pad >= 0 && codec.first >= 0, "tokenizer ", c.tokenizer,
           " has no padding or class token: it cannot frame documents for classification");
  const int64_t specials = 1 + (codec.last >= 0 ? 1 : 0), n = int64_t(corpus.texts.size());
  LW_CHECK(c.max_len > specials, "data.max_len ", c.max_len, " leaves no room for text");
  auto ids = torch::full({n, c.max_len}, codec.pad, torch::kInt64);  // (N, T)
  auto* out = ids.data_ptr<int64_t>();
  for (int64_t r = 0; r < n; ++r) {
    std::vector<int64_t> row = {codec.first};
    const auto text = codec.encode(corpus.texts[r], c.max_len - specials);
    row.insert(row.end(), text.begin(), text.end());
    if (codec.last >= 0) row.push_back(codec.last);
    std::copy(row.begin(), row.end(), out + r * c.max_len);
  }
  return {ids, torch::tensor(corpus.labels, torch::kInt64)};
}

// Language modelling: bos text eos for every document (each where the tokenizer has it),
// concatenated, cut into windows of max_len + 1 tokens (the remainder is dropped): inputs
// (N, max_len), labels (N, max_len).
Examples encode_stream(const DataConfig& c, const TextCodec& codec, const TextCorpus& corpus) {
  std::vector<int64_t> stream;
  for (const auto& text : corpus.texts) {
    if (codec.bos >= 0) stream.push_back(codec.bos);
    const auto ids = codec.encode(text, -1);
    stream.insert(stream.end(), ids.begin(), ids.end());
    if (codec.eos >= 0) stream.push_back(codec.eos);
  }
  const int64_t window = c.max_len + 1;
  const int64_t n = int64_t(stream.size()) / window;
  LW_CHECK(n > 0, "the ", corpus.texts.size(), " documents hold ", stream.size(),
           " tokens: fewer than one window of ", window);
  const auto windows =
      torch::tensor(stream, torch::kInt64).slice(0, 0, n * window).view({n, window});
  return {windows.slice(1, 0, c.max_len).contiguous(), windows.slice(1, 1, window).contiguous()};
}

Examples encode_split(const DataConfig& c, const TextCodec& codec, const TextCorpus& corpus) {
  return c.task == Task::lm ? encode_stream(c, codec, corpus) : encode_documents(c, codec, corpus);
}

Examples first(Examples examples, int64_t limit) {
  if (limit > 0 && limit < examples.inputs.size()) {
    examples.inputs = examples.inputs.slice(0, limit);
    examples.labels = examples.labels.slice(0, 0, limit);
  }
  return examples;
}

}  // namespace

TaskData load_text_task(const DataConfig& c, const std::string& run_dir) {
  check_text_config(c);
  const auto parts = corpus_splits(c);  // one load for both splits
  const auto& train = parts.train;
  const auto codec = run_text_codec(c, run_dir, &train.texts);
  TaskData task;
  task.train = first(encode_split(c, codec, train), c.train_limit);
  task.val = first(encode_split(c, codec, parts.val), c.val_limit);
  task.vocab_size = codec.vocab_size;
  if (c.task == Task::lm) {
    task.n_classes = codec.vocab_size;
  } else {
    task.n_classes = int64_t(train.class_names.size());
    task.class_names = train.class_names;
  }
  task.input_shape = task.train.inputs.sample_shape();
  return task;
}

Examples load_text_split(const DataConfig& c, const std::string& split, int64_t max_samples,
                         const std::string& run_dir) {
  check_text_config(c);
  LW_CHECK(max_samples >= 0, "the sample limit must be >= 0, got ", max_samples);
  const auto codec = run_text_codec(c, run_dir, nullptr);
  auto examples = encode_split(c, codec, corpus_split(c, split));
  if (split != "test") examples = first(examples, split == "train" ? c.train_limit : c.val_limit);
  return first(examples, max_samples);
}

}  // namespace layerwise::data
