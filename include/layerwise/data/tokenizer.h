// Tokenizers for text models: byte-level, and byte-level BPE learned from a corpus, with their
// tokenizer.json file and the batch encoding that turns texts into padded id tensors.
//
// Ids: 0 <pad>, 1 <cls>, 2 <bos>, 3 <eos>; byte b is id 4 + b; BPE merges follow from 260 in merge
// order. Both kinds work on arbitrary bytes (invalid UTF-8 included), so decode(encode(s)) == s.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

namespace layerwise::data {

/// Fixed special ids shared by every tokenizer: 0 <pad>, 1 <cls>, 2 <bos>, 3 <eos>; byte b is id
/// 4 + b (ids 4..259); BPE merges follow from 260 in merge order.
inline constexpr int64_t kPadId = 0, kClsId = 1, kBosId = 2, kEosId = 3, kFirstByteId = 4,
                         kByteVocab = 260;

/// A byte-level tokenizer, optionally with BPE merges. encode keeps a cache of chunk encodings, so
/// one Tokenizer must not be used from several threads at once (copies are independent).
class Tokenizer {
 public:
  /// Byte-level: vocab 260, every byte one token.
  static Tokenizer bytes();

  /// Byte-level BPE learned on `texts` until vocab_size ids exist (or no pair occurs twice).
  /// Deterministic: ties broken by the smaller (left id, right id) pair. vocab_size >= 260.
  static Tokenizer train_bpe(const std::vector<std::string>& texts, int64_t vocab_size);

  /// A BPE tokenizer from its merges (merge i makes id 260 + i); throws if an id is out of range.
  static Tokenizer from_merges(const std::vector<std::pair<int64_t, int64_t>>& merges);

  /// Reads a tokenizer.json written by save; throws layerwise::Error naming the path and the fault.
  static Tokenizer load(const std::string& path);

  /// Writes tokenizer.json atomically.
  void save(const std::string& path) const;

  /// {"kind", "version": 1, "special": [...], "merges": [[a, b], ...]} (merges for "bpe" only).
  nlohmann::json to_json() const;

  /// Inverse of to_json; `source` (a path, say) starts the error messages.
  static Tokenizer from_json(const nlohmann::json& json, const std::string& source);

  std::string kind() const { return bpe_ ? "bpe" : "byte"; }
  int64_t vocab_size() const { return kByteVocab + static_cast<int64_t>(merges_.size()); }
  const std::vector<std::pair<int64_t, int64_t>>& merges() const { return merges_; }

  /// The ids of `text`, no special tokens added.
  std::vector<int64_t> encode(const std::string& text) const;

  /// The first max_ids ids of encode(text), without encoding the rest; `truncated` tells whether
  /// encode(text) is longer.
  std::vector<int64_t> encode_prefix(const std::string& text, int64_t max_ids,
                                     bool& truncated) const;

  /// The bytes of `ids`, special ids skipped: the exact inverse of encode.
  std::string decode(const std::vector<int64_t>& ids) const;

  /// For display: "<pad>", "<cls>", "<bos>", "<eos>", or the bytes of the token.
  std::string token_text(int64_t id) const;

 private:
  Tokenizer() = default;
  void check_id(int64_t id) const;
  void encode_chunk(std::string_view chunk, std::vector<int64_t>& ids) const;  // appends

  bool bpe_ = false;
  std::vector<std::pair<int64_t, int64_t>> merges_;   // merge i makes id kByteVocab + i
  std::vector<std::string> token_bytes_;              // bytes of each id ("" for special ids)
  std::unordered_map<uint64_t, int64_t> merge_rank_;  // pair_key(a, b) -> merge index
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache_;  // chunk -> ids
};

/// Splits text into the chunks BPE merges never cross, like GPT-2 but over bytes: an optional
/// leading space + a run of letters (ASCII letters and bytes >= 0x80), digits, or other non-space
/// bytes; or a run of whitespace (which leaves its last space to a following word).
std::vector<std::string> pretokenize(const std::string& text);

struct EncodeOptions {
  int64_t max_len = 256;  // total length including added special tokens; longer texts truncated
  bool prepend_cls = false;
  bool prepend_bos = false;  // after <cls> when both are set
  bool append_eos = false;   // only if the whole text and <eos> fit (not when truncated)
  bool pad = true;           // pad every row to max_len (false: to the longest row)
};

struct EncodedBatch {
  torch::Tensor ids;   // (N, T) int64, kPadId at padded positions
  torch::Tensor mask;  // (N, T) bool, true at real tokens
};

/// Encodes texts into one padded batch per `options`.
EncodedBatch encode_batch(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                          const EncodeOptions& options);

}  // namespace layerwise::data
