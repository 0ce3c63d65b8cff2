// Tokenizers that give the ids of Hugging Face's for pretrained checkpoints:
//   WordPieceTokenizer   BERT: vocab.txt, with BERT's normalizer (clean text, spaces around CJK
//                        characters, accent stripping by NFD, lower-casing) and pre-tokenizer
//                        (split on whitespace, every punctuation character its own word)
//   ByteLevelBpeTokenizer GPT-2: vocab.json + merges.txt, GPT-2's pre-tokenizer pattern, bytes
//                        mapped to printable characters, merges by rank
// Unicode properties (categories, White_Space, NFD, case mapping) come from ICU.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace layerwise::data {

/// UTF-8 to code points; an invalid byte becomes U+FFFD.
std::u32string utf8_to_codepoints(const std::string& text);
/// Code points to UTF-8.
std::string codepoints_to_utf8(const std::u32string& codepoints);

class WordPieceTokenizer {
 public:
  struct Options {
    bool lower_case = true;     // BERT uncased; strip_accents follows it unless set
    int strip_accents = -1;     // -1: as lower_case; 0: keep; 1: strip
    bool chinese_chars = true;  // spaces around CJK ideographs
    int64_t max_chars_per_word = 100;
  };

  /// Reads vocab.txt (one token a line, id = line number); throws naming the file.
  static WordPieceTokenizer load(const std::string& vocab_txt, Options options);
  static WordPieceTokenizer load(const std::string& vocab_txt) { return load(vocab_txt, {}); }

  /// The word pieces of `text` ("##" marks continuations), no special tokens.
  std::vector<std::string> tokenize(const std::string& text) const;
  /// Their ids, with [CLS] ... [SEP] around them when add_special_tokens.
  std::vector<int64_t> encode(const std::string& text, bool add_special_tokens = true) const;
  int64_t token_id(const std::string& token) const;  // throws if absent
  int64_t vocab_size() const { return int64_t(tokens_.size()); }

 private:
  std::u32string normalize(const std::string& text) const;
  void word_pieces(const std::u32string& word, std::vector<std::string>& out) const;

  Options options_;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t> ids_;
};

class ByteLevelBpeTokenizer {
 public:
  /// Reads vocab.json ({"token": id}) and merges.txt ("a b" per line, optional "#version" line);
  /// throws naming the file and line.
  static ByteLevelBpeTokenizer load(const std::string& vocab_json, const std::string& merges_txt);

  /// GPT-2's pre-tokenization: the pieces of `text` (contractions, letters, numbers, other
  /// characters, each optionally after one space, and runs of whitespace).
  static std::vector<std::string> pre_tokenize(const std::string& text);

  /// The tokens (in GPT-2's byte-to-character alphabet) and their ids; no special tokens.
  std::vector<std::string> tokenize(const std::string& text) const;
  std::vector<int64_t> encode(const std::string& text) const;
  /// The text of `ids` (bytes joined back; invalid UTF-8 kept as is).
  std::string decode(const std::vector<int64_t>& ids) const;
  int64_t vocab_size() const { return int64_t(tokens_.size()); }
  /// The id of a token of vocab.json (e.g. "<|endoftext|>"), or -1 when it has none.
  int64_t find_id(const std::string& token) const {
    const auto it = ids_.find(token);
    return it == ids_.end() ? -1 : it->second;
  }

 private:
  std::vector<std::string> bpe(const std::string& piece) const;  // piece: raw bytes

  std::unordered_map<std::string, int64_t> ids_;
  std::vector<std::string> tokens_;                 // by id
  std::unordered_map<std::string, int64_t> ranks_;  // "a b" -> merge rank
};

}  // namespace layerwise::data
