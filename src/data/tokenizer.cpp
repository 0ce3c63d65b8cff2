#include "layerwise/data/tokenizer.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <string_view>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"

namespace layerwise::data {
namespace {

constexpr int kVersion = 1;
// The chunk cache is cleared when full and skips long chunks (rare; base64 runs): bounds memory.
constexpr size_t kMaxCacheEntries = size_t{1} << 18, kMaxCachedChunk = 64;
// The most bytes all tokens may hold together. Merges can double a token's length each time (a
// chain of 40 makes a terabyte), so a file of merges must not be trusted with memory; real
// vocabularies hold well under a MiB.
constexpr size_t kMaxTokenBytes = size_t{64} << 20;
const char* const kSpecialNames[] = {"<pad>", "<cls>", "<bos>", "<eos>"};

uint64_t pair_key(int64_t left, int64_t right) {
  return (static_cast<uint64_t>(left) << 32) | static_cast<uint32_t>(right);
}
int32_t key_left(uint64_t key) {
  return static_cast<int32_t>(key >> 32);
}
int32_t key_right(uint64_t key) {
  return static_cast<int32_t>(key & 0xffffffffu);
}

enum class ByteClass { kSpace, kLetter, kDigit, kOther };

ByteClass byte_class(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte == ' ' || byte == '\t' || byte == '\n' || byte == '\r' || byte == '\v' || byte == '\f')
    return ByteClass::kSpace;
  // Bytes >= 0x80 count as letters so that UTF-8 characters stay inside their word.
  const auto lower = static_cast<unsigned char>(byte | 0x20);
  if (byte >= 0x80 || (lower >= 'a' && lower <= 'z')) return ByteClass::kLetter;
  if (byte >= '0' && byte <= '9') return ByteClass::kDigit;
  return ByteClass::kOther;
}

/// Calls fn(chunk) for each pre-token chunk of text in order, until fn returns false.
template <typename Fn>
void for_each_chunk(std::string_view text, Fn&& fn) {
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const size_t start = i;
    ByteClass run = byte_class(text[i]);
    if (text[i] == ' ' && i + 1 < n && byte_class(text[i + 1]) != ByteClass::kSpace) {
      run = byte_class(text[++i]);  // a single leading space joins the word
    }
    while (i < n && byte_class(text[i]) == run) ++i;
    // A whitespace run leaves its last space to the word after it, as in GPT-2.
    if (run == ByteClass::kSpace && i < n && i - start > 1 && text[i - 1] == ' ') --i;
    if (!fn(text.substr(start, i - start))) return;
  }
}

/// One distinct chunk of the training corpus, as the ids it is split into so far.
struct Word {
  std::vector<int32_t> symbols;
  int64_t count = 0;
};

/// Byte-level BPE training with incremental pair counts: each merge only revisits the words that
/// contain its pair.
class BpeTrainer {
 public:
  explicit BpeTrainer(const std::vector<std::string>& texts) {
    std::unordered_map<std::string_view, int64_t> chunk_counts;
    for (const auto& text : texts) {
      for_each_chunk(text, [&](std::string_view chunk) {
        ++chunk_counts[chunk];
        return true;
      });
    }
    words_.reserve(chunk_counts.size());
    for (const auto& [chunk, count] : chunk_counts) {
      Word word;
      word.count = count;
      for (const char c : chunk)
        word.symbols.push_back(static_cast<int32_t>(kFirstByteId + static_cast<unsigned char>(c)));
      words_.push_back(std::move(word));
    }
    for (int32_t w = 0; w < static_cast<int32_t>(words_.size()); ++w) {
      const auto& symbols = words_[w].symbols;
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        const uint64_t key = pair_key(symbols[i], symbols[i + 1]);
        pair_counts_[key] += words_[w].count;
        add_word(key, w);
      }
    }
    for (const auto& [key, count] : pair_counts_) heap_.push({count, key});
  }

  /// Learns merges until n_merges exist or no pair occurs twice.
  std::vector<std::pair<int64_t, int64_t>> run(int64_t n_merges) {
    std::vector<std::pair<int64_t, int64_t>> merges;
    while (static_cast<int64_t>(merges.size()) < n_merges && !heap_.empty()) {
      const auto [count, key] = heap_.top();
      heap_.pop();
      const auto it = pair_counts_.find(key);
      if (it == pair_counts_.end() || it->second != count) continue;  // stale heap entry
      if (count < 2) break;
      const auto merged = static_cast<int32_t>(kByteVocab + static_cast<int64_t>(merges.size()));
      merges.emplace_back(key_left(key), key_right(key));
      merge(key, merged);
    }
    return merges;
  }

 private:
  /// Heap order: the highest count first, ties to the smaller (left, right) pair.
  struct Lower {
    bool operator()(const std::pair<int64_t, uint64_t>& a,
                    const std::pair<int64_t, uint64_t>& b) const {
      return a.first != b.first ? a.first < b.first : a.second > b.second;
    }
  };

  void add_word(uint64_t key, int32_t w) {
    auto& list = pair_words_[key];
    if (list.empty() || list.back() != w) list.push_back(w);  // a word's pairs come in together
  }

  /// Replaces every (left, right) by `merged` in the words holding it, and updates the counts.
  void merge(uint64_t key, int32_t merged) {
    const int32_t left = key_left(key), right = key_right(key);
    const std::vector<int32_t> holders = std::move(pair_words_[key]);
    pair_words_.erase(key);
    std::unordered_map<uint64_t, int64_t> delta;
    std::vector<int32_t> out;
    for (const int32_t w : holders) {
      auto& word = words_[w];
      const auto& symbols = word.symbols;
      out.clear();
      for (size_t i = 0; i < symbols.size(); ++i) {
        if (symbols[i] == left && i + 1 < symbols.size() && symbols[i + 1] == right) {
          out.push_back(merged);
          ++i;
        } else {
          out.push_back(symbols[i]);
        }
      }
      if (out.size() == symbols.size()) continue;  // an earlier merge took the pair away
      for (size_t i = 0; i + 1 < symbols.size(); ++i)
        delta[pair_key(symbols[i], symbols[i + 1])] -= word.count;
      for (size_t i = 0; i + 1 < out.size(); ++i) {
        const uint64_t pair = pair_key(out[i], out[i + 1]);
        delta[pair] += word.count;
        // Pairs without `merged` were in the old word, so the word is already on their list.
        if (out[i] == merged || out[i + 1] == merged) add_word(pair, w);
      }
      word.symbols.assign(out.begin(), out.end());
    }
    for (const auto& [pair, change] : delta) {
      if (change == 0) continue;
      int64_t& count = pair_counts_[pair];
      count += change;
      if (count <= 0) {
        pair_counts_.erase(pair);
        pair_words_.erase(pair);
      } else {
        heap_.push({count, pair});
      }
    }
  }

  std::vector<Word> words_;
  std::unordered_map<uint64_t, int64_t> pair_counts_;              // weighted by word counts
  std::unordered_map<uint64_t, std::vector<int32_t>> pair_words_;  // may list stale words
  std::priority_queue<std::pair<int64_t, uint64_t>, std::vector<std::pair<int64_t, uint64_t>>,
                      Lower>
      heap_;  // (count, pair); entries whose count changed since are skipped
};

/// json[key], or null if absent.
nlohmann::json field(const nlohmann::json& json, const char* key) {
  return json.contains(key) ? json.at(key) : nlohmann::json();
}

std::string describe(const nlohmann::json& value) {
  const std::string text = value.dump();
  return text.size() <= 40 ? text : text.substr(0, 37) + "...";
}

}  // namespace

std::vector<std::string> pretokenize(const std::string& text) {
  std::vector<std::string> chunks;
  for_each_chunk(text, [&](std::string_view chunk) {
    chunks.emplace_back(chunk);
    return true;
  });
  return chunks;
}

Tokenizer Tokenizer::bytes() {
  Tokenizer tokenizer = from_merges({});
  tokenizer.bpe_ = false;
  return tokenizer;
}

Tokenizer Tokenizer::train_bpe(const std::vector<std::string>& texts, int64_t vocab_size) {
  LW_CHECK(vocab_size >= kByteVocab, "train_bpe: vocab_size ", vocab_size, " is below ", kByteVocab,
           " (4 special ids + 256 bytes)");
  LW_CHECK(vocab_size <= (int64_t{1} << 30), "train_bpe: vocab_size ", vocab_size, " is too large");
  return from_merges(BpeTrainer(texts).run(vocab_size - kByteVocab));
}

Tokenizer Tokenizer::from_merges(const std::vector<std::pair<int64_t, int64_t>>& merges) {
  Tokenizer tokenizer;
  tokenizer.bpe_ = true;
  tokenizer.merges_ = merges;
  tokenizer.token_bytes_.resize(kFirstByteId);
  for (int byte = 0; byte < 256; ++byte)
    tokenizer.token_bytes_.emplace_back(1, static_cast<char>(byte));
  size_t total_bytes = 256;
  for (size_t i = 0; i < merges.size(); ++i) {
    const auto [left, right] = merges[i];
    const int64_t limit = kByteVocab + static_cast<int64_t>(i);
    LW_CHECK(left >= kFirstByteId && left < limit && right >= kFirstByteId && right < limit,
             "merge ", i, " [", left, ", ", right, "] uses an id outside ", kFirstByteId, "..",
             limit - 1, " (special ids, or a token not made yet)");
    const bool added = tokenizer.merge_rank_.emplace(pair_key(left, right), int64_t(i)).second;
    LW_CHECK(added, "merge ", i, " [", left, ", ", right, "] repeats an earlier merge");
    const size_t bytes = tokenizer.token_bytes_[left].size() + tokenizer.token_bytes_[right].size();
    total_bytes += bytes;
    LW_CHECK(total_bytes <= kMaxTokenBytes, "merge ", i, " [", left, ", ", right,
             "] makes a token of ", bytes, " bytes and the tokens more than ", kMaxTokenBytes >> 20,
             " MiB in all (merges that keep doubling a token?)");
    tokenizer.token_bytes_.push_back(tokenizer.token_bytes_[left] + tokenizer.token_bytes_[right]);
  }
  return tokenizer;
}

nlohmann::json Tokenizer::to_json() const {
  nlohmann::json json = {
      {"kind", kind()},
      {"version", kVersion},
      {"special", std::vector<std::string>(std::begin(kSpecialNames), std::end(kSpecialNames))}};
  if (bpe_) {
    auto merges = nlohmann::json::array();
    for (const auto& [left, right] : merges_) merges.push_back({left, right});
    json["merges"] = std::move(merges);
  }
  return json;
}

Tokenizer Tokenizer::from_json(const nlohmann::json& json, const std::string& source) {
  LW_CHECK(json.is_object(), source, ": not a tokenizer (expected a JSON object)");
  const auto kind = field(json, "kind");
  LW_CHECK(kind == "byte" || kind == "bpe", source, ": unknown tokenizer kind ", describe(kind),
           " (expected \"byte\" or \"bpe\")");
  const auto version = field(json, "version");
  LW_CHECK(version == kVersion, source, ": unsupported tokenizer version ", describe(version),
           " (expected ", kVersion, ")");
  if (json.contains("special")) {
    const nlohmann::json expected(
        std::vector<std::string>(std::begin(kSpecialNames), std::end(kSpecialNames)));
    LW_CHECK(json["special"] == expected, source, ": special tokens ", describe(json["special"]),
             " differ from ", expected.dump());
  }
  const auto merges_json = json.contains("merges") ? json.at("merges") : nlohmann::json::array();
  LW_CHECK(merges_json.is_array(), source, ": \"merges\" is not an array");
  LW_CHECK(kind == "bpe" || merges_json.empty(), source, ": a byte tokenizer has no merges");
  std::vector<std::pair<int64_t, int64_t>> merges;
  merges.reserve(merges_json.size());
  for (const auto& merge : merges_json) {
    LW_CHECK(merge.is_array() && merge.size() == 2 && merge[0].is_number_integer() &&
                 merge[1].is_number_integer(),
             source, ": merge ", merges.size(), " is ", describe(merge),
             ", not a pair of integer ids");
    merges.emplace_back(merge[0].get<int64_t>(), merge[1].get<int64_t>());
  }
  try {
    Tokenizer tokenizer = from_merges(merges);
    tokenizer.bpe_ = kind == "bpe";
    return tokenizer;
  } catch (const Error& error) {
    throw Error(str_cat(source, ": ", error.what()));
  }
}

Tokenizer Tokenizer::load(const std::string& path) {
  const std::string text = read_file(path);  // names the path if missing
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(path, ": not valid JSON (", e.what(), ")"));
  }
  return from_json(json, path);
}

void Tokenizer::save(const std::string& path) const {
  write_file_atomic(path, to_json().dump() + "\n");
}

void Tokenizer::check_id(int64_t id) const {
  LW_CHECK(id >= 0 && id < vocab_size(), "token id ", id, " is outside 0..", vocab_size() - 1, " (",
           kind(), " tokenizer)");
}

void Tokenizer::encode_chunk(std::string_view chunk, std::vector<int64_t>& ids) const {
  if (merge_rank_.empty() || chunk.size() < 2) {
    for (const char c : chunk) ids.push_back(kFirstByteId + static_cast<unsigned char>(c));
    return;
  }
  std::string key(chunk);
  const auto cached = cache_.find(key);
  if (cached != cache_.end()) {
    ids.insert(ids.end(), cached->second.begin(), cached->second.end());
    return;
  }
  std::vector<int64_t> symbols;
  symbols.reserve(chunk.size());
  for (const char c : chunk) symbols.push_back(kFirstByteId + static_cast<unsigned char>(c));

  // Symbols as a linked list; a heap of (merge rank, left position) candidates applies the lowest
  // rank first, left to right within a rank, exactly as training applied the merges.
  const auto n = static_cast<int32_t>(symbols.size());
  std::vector<int32_t> next(n), prev(n);
  for (int32_t i = 0; i < n; ++i) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  using Candidate = std::pair<int64_t, int32_t>;
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> candidates;
  const auto push = [&](int32_t left) {
    if (left < 0 || next[left] < 0) return;
    const auto it = merge_rank_.find(pair_key(symbols[left], symbols[next[left]]));
    if (it != merge_rank_.end()) candidates.push({it->second, left});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!candidates.empty()) {
    const auto [rank, left] = candidates.top();
    candidates.pop();
    const int32_t right = next[left];
    if (symbols[left] < 0 || right < 0) continue;  // merged away, or now at the end
    const auto it = merge_rank_.find(pair_key(symbols[left], symbols[right]));
    if (it == merge_rank_.end() || it->second != rank) continue;  // the pair changed
    symbols[left] = kByteVocab + rank;
    symbols[right] = -1;
    next[left] = next[right];
    if (next[right] >= 0) prev[next[right]] = left;
    push(prev[left]);
    push(left);
  }
  std::vector<int64_t> merged;
  for (int32_t i = 0; i >= 0; i = next[i]) merged.push_back(symbols[i]);
  ids.insert(ids.end(), merged.begin(), merged.end());
  if (chunk.size() > kMaxCachedChunk) return;
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();
  cache_.emplace(std::move(key), std::move(merged));
}

std::vector<int64_t> Tokenizer::encode(const std::string& text) const {
  bool truncated = false;
  return encode_prefix(text, static_cast<int64_t>(text.size()), truncated);
}

std::vector<int64_t> Tokenizer::encode_prefix(const std::string& text, int64_t max_ids,
                                              bool& truncated) const {
  LW_CHECK(max_ids >= 0, "encode_prefix: max_ids ", max_ids, " is negative");
  std::vector<int64_t> ids;
  truncated = false;
  for_each_chunk(text, [&](std::string_view chunk) {
    encode_chunk(chunk, ids);
    truncated = static_cast<int64_t>(ids.size()) > max_ids;
    return !truncated;
  });
  if (truncated) ids.resize(static_cast<size_t>(max_ids));
  return ids;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string text;
  for (const int64_t id : ids) {
    check_id(id);
    if (id >= kFirstByteId) text += token_bytes_[id];
  }
  return text;
}

std::string Tokenizer::token_text(int64_t id) const {
  check_id(id);
  return id < kFirstByteId ? kSpecialNames[id] : token_bytes_[id];
}

EncodedBatch encode_batch(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                          const EncodeOptions& options) {
  const int64_t prefix = int64_t{options.prepend_cls} + int64_t{options.prepend_bos};
  LW_CHECK(options.max_len > prefix, "encode_batch: max_len ", options.max_len,
           " leaves no room for text after ", prefix, " special tokens");
  const int64_t room = options.max_len - prefix;
  std::vector<std::vector<int64_t>> rows;
  rows.reserve(texts.size());
  int64_t longest = 0;
  for (const auto& text : texts) {
    std::vector<int64_t> row;
    if (options.prepend_cls) row.push_back(kClsId);
    if (options.prepend_bos) row.push_back(kBosId);
    bool truncated = false;
    const auto ids = tokenizer.encode_prefix(text, room, truncated);
    row.insert(row.end(), ids.begin(), ids.end());
    // <eos> marks a text seen to its end, so only when the whole text and <eos> fit.
    if (options.append_eos && !truncated && static_cast<int64_t>(ids.size()) < room)
      row.push_back(kEosId);
    longest = std::max(longest, static_cast<int64_t>(row.size()));
    rows.push_back(std::move(row));
  }
  const auto n = static_cast<int64_t>(texts.size());
  const int64_t width = options.pad ? options.max_len : longest;
  EncodedBatch batch;
  batch.ids = torch::full({n, width}, kPadId, torch::kInt64);  // (N, T)
  auto lengths = torch::empty({n, 1}, torch::kInt64);          // (N, 1)
  int64_t* ids = batch.ids.data_ptr<int64_t>();
  for (int64_t r = 0; r < n; ++r) {
    std::copy(rows[r].begin(), rows[r].end(), ids + r * width);
    lengths.data_ptr<int64_t>()[r] = static_cast<int64_t>(rows[r].size());
  }
  batch.mask = torch::arange(width, torch::kInt64).unsqueeze(0) < lengths;  // (N, T)
  return batch;
}

}  // namespace layerwise::data
