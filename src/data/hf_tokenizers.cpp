#include "layerwise/data/hf_tokenizers.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"

namespace layerwise::data {

namespace {

constexpr char32_t kReplacement = 0xFFFD;

// ---- Unicode through ICU ----

std::u16string to_utf16(const std::u32string& text) {
  std::u16string out(text.size() * 2 + 1, u'\0');
  int32_t length = 0;
  UErrorCode error = U_ZERO_ERROR;
  u_strFromUTF32(reinterpret_cast<UChar*>(out.data()), int32_t(out.size()), &length,
                 reinterpret_cast<const UChar32*>(text.data()), int32_t(text.size()), &error);
  LW_CHECK(U_SUCCESS(error), "UTF-32 to UTF-16: ", u_errorName(error));
  out.resize(size_t(length));
  return out;
}

std::u32string to_utf32(const std::u16string& text) {
  std::u32string out(text.size() + 1, U'\0');
  int32_t length = 0;
  UErrorCode error = U_ZERO_ERROR;
  u_strToUTF32(reinterpret_cast<UChar32*>(out.data()), int32_t(out.size()), &length,
               reinterpret_cast<const UChar*>(text.data()), int32_t(text.size()), &error);
  LW_CHECK(U_SUCCESS(error), "UTF-16 to UTF-32: ", u_errorName(error));
  out.resize(size_t(length));
  return out;
}

std::u32string nfd(const std::u32string& text) {
  UErrorCode error = U_ZERO_ERROR;
  const UNormalizer2* normalizer = unorm2_getNFDInstance(&error);
  LW_CHECK(U_SUCCESS(error), "ICU NFD: ", u_errorName(error));
  const auto source = to_utf16(text);
  std::u16string out(source.size() * 4 + 8, u'\0');  // NFD expands a character to at most 4
  const int32_t length = unorm2_normalize(
      normalizer, reinterpret_cast<const UChar*>(source.data()), int32_t(source.size()),
      reinterpret_cast<UChar*>(out.data()), int32_t(out.size()), &error);
  LW_CHECK(U_SUCCESS(error), "ICU NFD: ", u_errorName(error));
  out.resize(size_t(length));
  return to_utf32(out);
}

// The full lower-case mapping of one character, without context (as Rust's char::to_lowercase,
// which Hugging Face's tokenizers use): U+0130 -> "i\u0307", and capital sigma always -> sigma.
std::u32string lower(char32_t c) {
  if (c < 0x80) return std::u32string(1, c >= 'A' && c <= 'Z' ? c + 32 : c);
  const auto source = to_utf16(std::u32string(1, c));
  std::u16string out(8, u'\0');
  UErrorCode error = U_ZERO_ERROR;
  const int32_t length = u_strToLower(reinterpret_cast<UChar*>(out.data()), int32_t(out.size()),
                                      reinterpret_cast<const UChar*>(source.data()),
                                      int32_t(source.size()), "", &error);
  LW_CHECK(U_SUCCESS(error), "ICU lower case: ", u_errorName(error));
  out.resize(size_t(length));
  return to_utf32(out);
}

int8_t category(char32_t c) {
  return u_charType(UChar32(c));
}

bool is_letter(char32_t c) {
  const auto k = category(c);
  return k == U_UPPERCASE_LETTER || k == U_LOWERCASE_LETTER || k == U_TITLECASE_LETTER ||
         k == U_MODIFIER_LETTER || k == U_OTHER_LETTER;
}

bool is_number(char32_t c) {
  const auto k = category(c);
  return k == U_DECIMAL_DIGIT_NUMBER || k == U_LETTER_NUMBER || k == U_OTHER_NUMBER;
}

bool is_whitespace(char32_t c) {  // the White_Space property
  return u_isUWhiteSpace(UChar32(c));
}

bool is_other(char32_t c) {  // general category C*
  const auto k = category(c);
  return k == U_CONTROL_CHAR || k == U_FORMAT_CHAR || k == U_PRIVATE_USE_CHAR || k == U_SURROGATE ||
         k == U_UNASSIGNED;
}

bool is_punctuation(char32_t c) {  // BERT's: ASCII punctuation or general category P*
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126))
    return true;
  const auto k = category(c);
  return k == U_CONNECTOR_PUNCTUATION || k == U_DASH_PUNCTUATION || k == U_START_PUNCTUATION ||
         k == U_END_PUNCTUATION || k == U_INITIAL_PUNCTUATION || k == U_FINAL_PUNCTUATION ||
         k == U_OTHER_PUNCTUATION;
}

bool is_cjk(char32_t c) {  // the CJK Unified Ideographs blocks, as BERT defines them
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// ---- GPT-2's byte-to-character alphabet ----

// Printable bytes stand for themselves; the others (controls, space, ...) for 256 + n in order.
const std::array<std::string, 256>& byte_characters() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      t[b] = codepoints_to_utf8(std::u32string(1, char32_t(printable ? b : next++)));
    }
    return t;
  }();
  return table;
}

std::string read_text(const std::string& path, const std::string& what) {
  LW_CHECK(file_exists(path), what, " ", path, ": no such file");
  return read_file(path);
}

}  // namespace

std::u32string utf8_to_codepoints(const std::string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    const int n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    char32_t c = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
    bool valid = n > 0 && i + size_t(n) <= text.size();
    for (int k = 1; valid && k < n; ++k) {
      const auto next = static_cast<unsigned char>(text[i + size_t(k)]);
      valid = (next >> 6) == 2;
      c = (c << 6) | (next & 0x3F);
    }
    if (!valid) {
      out.push_back(kReplacement);
      ++i;
      continue;
    }
    out.push_back(c);
    i += size_t(n);
  }
  return out;
}

std::string codepoints_to_utf8(const std::u32string& codepoints) {
  std::string out;
  for (char32_t c : codepoints) {
    if (c < 0x80) {
      out += char(c);
    } else if (c < 0x800) {
      out += char(0xC0 | (c >> 6));
      out += char(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += char(0xE0 | (c >> 12));
      out += char(0x80 | ((c >> 6) & 0x3F));
      out += char(0x80 | (c & 0x3F));
    } else {
      out += char(0xF0 | (c >> 18));
      out += char(0x80 | ((c >> 12) & 0x3F));
      out += char(0x80 | ((c >> 6) & 0x3F));
      out += char(0x80 | (c & 0x3F));
    }
  }
  return out;
}

// ---- WordPiece ----

WordPieceTokenizer WordPieceTokenizer::load(const std::string& vocab_txt, Options options) {
  WordPieceTokenizer t;
  t.options_ = options;
  const auto text = read_text(vocab_txt, "WordPiece vocabulary");
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string token = text.substr(start, end - start);
    if (!token.empty() && token.back() == '\r') token.pop_back();
    t.ids_.emplace(token, int64_t(t.tokens_.size()));  // a repeated token keeps its first id
    t.tokens_.push_back(token);
    start = end + 1;
  }
  for (const char* special : {"[UNK]", "[CLS]", "[SEP]"})
    LW_CHECK(t.ids_.count(special), vocab_txt, ": the vocabulary has no ", special);
  return t;
}

int64_t WordPieceTokenizer::token_id(const std::string& token) const {
  const auto it = ids_.find(token);
  LW_CHECK(it != ids_.end(), "WordPiece: '", token, "' is not in the vocabulary");
  return it->second;
}

// BERT's normalizer: drop NUL, U+FFFD and other controls, whitespace to ' ', spaces around CJK
// ideographs, then (uncased) NFD without non-spacing marks, then lower case.
std::u32string WordPieceTokenizer::normalize(const std::string& text) const {
  std::u32string clean;
  for (char32_t c : utf8_to_codepoints(text)) {
    const bool space = c == '\t' || c == '\n' || c == '\r' || is_whitespace(c);
    if (space) {
      clean.push_back(' ');
    } else if (c == 0 || c == kReplacement || is_other(c)) {
      continue;
    } else if (options_.chinese_chars && is_cjk(c)) {
      clean += U' ';
      clean.push_back(c);
      clean += U' ';
    } else {
      clean.push_back(c);
    }
  }
  const bool strip = options_.strip_accents < 0 ? options_.lower_case : options_.strip_accents > 0;
  if (strip) {
    std::u32string kept;
    for (char32_t c : nfd(clean))
      if (category(c) != U_NON_SPACING_MARK) kept.push_back(c);
    clean = kept;
  }
  if (!options_.lower_case) return clean;
  std::u32string lowered;
  for (char32_t c : clean) lowered += lower(c);
  return lowered;
}

// Greedy longest match first; a word with a part that matches nothing is [UNK] as a whole.
void WordPieceTokenizer::word_pieces(const std::u32string& word,
                                     std::vector<std::string>& out) const {
  if (int64_t(word.size()) > options_.max_chars_per_word) {
    out.push_back("[UNK]");
    return;
  }
  std::vector<std::string> pieces;
  for (size_t start = 0; start < word.size();) {
    size_t end = word.size();
    std::string match;
    for (; end > start; --end) {
      const auto candidate =
          (start > 0 ? "##" : "") + codepoints_to_utf8(word.substr(start, end - start));
      if (ids_.count(candidate)) {
        match = candidate;
        break;
      }
    }
    if (match.empty()) {
      out.push_back("[UNK]");
      return;
    }
    pieces.push_back(match);
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

std::vector<std::string> WordPieceTokenizer::tokenize(const std::string& text) const {
  std::vector<std::string> out;
  std::u32string word;
  const auto flush = [&] {
    if (!word.empty()) word_pieces(word, out);
    word.clear();
  };
  for (char32_t c : normalize(text)) {
    if (is_whitespace(c)) {
      flush();
    } else if (is_punctuation(c)) {
      flush();
      word_pieces(std::u32string(1, c), out);
    } else {
      word.push_back(c);
    }
  }
  flush();
  return out;
}

std::vector<int64_t> WordPieceTokenizer::encode(const std::string& text,
                                                bool add_special_tokens) const {
  std::vector<int64_t> ids;
  if (add_special_tokens) ids.push_back(ids_.at("[CLS]"));
  for (const auto& token : tokenize(text)) ids.push_back(ids_.at(token));
  if (add_special_tokens) ids.push_back(ids_.at("[SEP]"));
  return ids;
}

// ---- GPT-2 byte-level BPE ----

ByteLevelBpeTokenizer ByteLevelBpeTokenizer::load(const std::string& vocab_json,
                                                  const std::string& merges_txt) {
  ByteLevelBpeTokenizer t;
  nlohmann::json vocab;
  try {
    vocab = nlohmann::json::parse(read_text(vocab_json, "BPE vocabulary"));
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(vocab_json, ": not valid JSON (", e.what(), ")"));
  }
  LW_CHECK(vocab.is_object() && !vocab.empty(), vocab_json, ": expected {\"token\": id, ...}");
  for (const auto& [token, id] : vocab.items()) {
    LW_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0, vocab_json, ": the id of '", token,
             "' is not a non-negative integer");
    t.ids_[token] = id.get<int64_t>();
  }
  t.tokens_.resize(vocab.size());
  for (const auto& [token, id] : t.ids_) {
    LW_CHECK(id < int64_t(t.tokens_.size()) && t.tokens_[size_t(id)].empty(), vocab_json,
             ": ids must be 0..", t.tokens_.size() - 1, " each once; '", token, "' has ", id);
    t.tokens_[size_t(id)] = token;
  }
  const auto merges = read_text(merges_txt, "BPE merges");
  size_t start = 0;
  for (int64_t line_number = 1; start < merges.size(); ++line_number) {
    size_t end = merges.find('\n', start);
    if (end == std::string::npos) end = merges.size();
    std::string line = merges.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    const auto space = line.find(' ');
    LW_CHECK(space != std::string::npos && space > 0 && space + 1 < line.size() &&
                 line.find(' ', space + 1) == std::string::npos,
             merges_txt, ":", line_number, ": expected two tokens separated by one space");
    t.ranks_.emplace(line, int64_t(t.ranks_.size()));
  }
  return t;
}

std::vector<std::string> ByteLevelBpeTokenizer::pre_tokenize(const std::string& text) {
  // The pattern 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+,
  // matched by hand over code points.
  const auto c = utf8_to_codepoints(text);
  const size_t n = c.size();
  const auto kind = [&](size_t i) {  // 0 whitespace, 1 letter, 2 number, 3 other
    return is_whitespace(c[i]) ? 0 : is_letter(c[i]) ? 1 : is_number(c[i]) ? 2 : 3;
  };
  std::vector<std::string> pieces;
  for (size_t i = 0; i < n;) {
    size_t end = i;
    if (c[i] == '\'') {
      for (const std::u32string suffix : {U"s", U"t", U"re", U"ve", U"m", U"ll", U"d"})
        if (c.compare(i + 1, suffix.size(), suffix) == 0 && i + 1 + suffix.size() <= n) {
          end = i + 1 + suffix.size();
          break;
        }
    }
    if (end == i) {
      const size_t first = c[i] == ' ' && i + 1 < n && kind(i + 1) != 0 ? i + 1 : i;
      const int k = kind(first);
      if (k != 0) {  // [ ]letters, [ ]numbers or [ ]others
        end = first + 1;
        while (end < n && kind(end) == k) ++end;
      } else {  // whitespace: leave the last one for the word after it
        while (end < n && kind(end) == 0) ++end;
        if (end < n && end - i >= 2) --end;
      }
    }
    pieces.push_back(codepoints_to_utf8(c.substr(i, end - i)));
    i = end;
  }
  return pieces;
}

// Merges the lowest-ranked adjacent pair until none of the pairs is a merge.
std::vector<std::string> ByteLevelBpeTokenizer::bpe(const std::string& piece) const {
  const auto& alphabet = byte_characters();
  std::vector<std::string> symbols;
  for (unsigned char b : piece) symbols.push_back(alphabet[b]);
  while (symbols.size() > 1) {
    int64_t best = std::numeric_limits<int64_t>::max();
    size_t at = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = ranks_.find(symbols[i] + " " + symbols[i + 1]);
      if (it != ranks_.end() && it->second < best) {
        best = it->second;
        at = i;
      }
    }
    if (best == std::numeric_limits<int64_t>::max()) break;
    const auto merged = symbols[at] + symbols[at + 1];
    const auto left = symbols[at], right = symbols[at + 1];
    // Merge every occurrence of this pair, left to right.
    std::vector<std::string> next;
    for (size_t i = 0; i < symbols.size(); ++i) {
      if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
        next.push_back(merged);
        ++i;
      } else {
        next.push_back(symbols[i]);
      }
    }
    symbols = std::move(next);
  }
  return symbols;
}

std::vector<std::string> ByteLevelBpeTokenizer::tokenize(const std::string& text) const {
  std::vector<std::string> tokens;
  for (const auto& piece : pre_tokenize(text))
    for (auto& token : bpe(piece)) tokens.push_back(std::move(token));
  return tokens;
}

std::vector<int64_t> ByteLevelBpeTokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids;
  for (const auto& token : tokenize(text)) {
    const auto it = ids_.find(token);
    LW_CHECK(it != ids_.end(), "BPE: token '", token, "' is not in the vocabulary");
    ids.push_back(it->second);
  }
  return ids;
}

std::string ByteLevelBpeTokenizer::decode(const std::vector<int64_t>& ids) const {
  static const auto byte_of = [] {
    std::unordered_map<std::string, unsigned char> m;
    for (int b = 0; b < 256; ++b) m[byte_characters()[b]] = static_cast<unsigned char>(b);
    return m;
  }();
  std::string out;
  for (int64_t id : ids) {
    LW_CHECK(id >= 0 && id < vocab_size(), "BPE decode: id ", id, " is outside 0..",
             vocab_size() - 1);
    for (char32_t c : utf8_to_codepoints(tokens_[size_t(id)])) {
      const auto it = byte_of.find(codepoints_to_utf8(std::u32string(1, c)));
      if (it != byte_of.end()) out += char(it->second);
    }
  }
  return out;
}

}  // namespace layerwise::data
