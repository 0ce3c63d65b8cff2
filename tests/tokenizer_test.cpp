#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/data/tokenizer.h"
#include "test_util.h"

namespace layerwise::data {
namespace {

using layerwise::testing::write_text;

using layerwise::testing::contains;
using layerwise::testing::error_message;
using layerwise::testing::temp_dir;

/// Strings that stress a byte-level tokenizer: accents, CJK, emoji, invalid UTF-8, whitespace.
std::vector<std::string> varied_strings() {
  std::string all_bytes;
  for (int byte = 0; byte < 256; ++byte) all_bytes.push_back(static_cast<char>(byte));
  return {"",
          "a",
          "Hello, world!",
          "The layerwise model learns each layer on its own.",
          "caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9",
          "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe6\x96\x87",
          "emoji \xf0\x9f\x98\x80\xf0\x9f\x9a\x80!",
          "bad \xff\xfe utf-8 \xc3 \x80\x80 end\xe2\x82",
          std::string("nul\0inside", 10),
          "   leading and trailing   ",
          "tabs\t\tand\n\nnewlines\r\n \n  x",
          "numbers 12345 and 3.14159 and -7",
          "punctuation!!! ??? ... --- <<>>",
          all_bytes};
}

/// A small generated corpus in which " layerwise" is by far the most frequent word.
std::vector<std::string> corpus() {
  const std::vector<std::string> words = {"the",   "model",  "learns", "each",
                                          "layer", "on",     "its",    "own",
                                          "with",  "emails", "tokens", "r\xc3\xa9sum\xc3\xa9",
                                          "data",  "from",   "and",    "\xe6\x97\xa5\xe6\x9c\xac"};
  uint64_t state = 12345;
  const auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  std::vector<std::string> texts;
  for (int t = 0; t < 200; ++t) {
    std::string text = "Layerwise:";
    for (int k = 0; k < 12; ++k) {
      text += " " + words[next() % words.size()];
      if (k % 4 == 3) text += " layerwise";
    }
    text += ". " + std::to_string(next() % 1000) + "\n";
    texts.push_back(text);
  }
  return texts;
}

const Tokenizer& trained() {
  static const Tokenizer tokenizer = Tokenizer::train_bpe(corpus(), 400);
  return tokenizer;
}

std::vector<int64_t> to_vector(const torch::Tensor& tensor) {
  const auto flat = tensor.to(torch::kInt64).contiguous();
  return {flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel()};
}

TEST(TokenizerBytes, RoundTripsVariedStrings) {
  const auto tokenizer = Tokenizer::bytes();
  EXPECT_EQ(tokenizer.kind(), "byte");
  EXPECT_EQ(tokenizer.vocab_size(), kByteVocab);
  EXPECT_EQ(tokenizer.encode("A\xff"), (std::vector<int64_t>{kFirstByteId + 'A', 259}));
  for (const auto& text : varied_strings()) {
    const auto ids = tokenizer.encode(text);
    EXPECT_EQ(ids.size(), text.size());
    EXPECT_EQ(tokenizer.decode(ids), text);
  }
}

TEST(TokenizerBytes, TokenTextAndSpecialIds) {
  const auto tokenizer = Tokenizer::bytes();
  EXPECT_EQ(tokenizer.token_text(kPadId), "<pad>");
  EXPECT_EQ(tokenizer.token_text(kClsId), "<cls>");
  EXPECT_EQ(tokenizer.token_text(kBosId), "<bos>");
  EXPECT_EQ(tokenizer.token_text(kEosId), "<eos>");
  EXPECT_EQ(tokenizer.token_text(kFirstByteId + 'z'), "z");
  // decode skips special ids and refuses ids outside the vocabulary.
  EXPECT_EQ(
      tokenizer.decode({kClsId, kBosId, kFirstByteId + 'h', kFirstByteId + 'i', kEosId, kPadId}),
      "hi");
  EXPECT_PRED2(contains, error_message([&] { tokenizer.decode({kByteVocab}); }),
               "token id 260 is outside 0..259");
  EXPECT_PRED2(contains, error_message([&] { tokenizer.token_text(-1); }), "token id -1");
}

TEST(TokenizerPretokenize, SplitsLikeGpt2OverBytes) {
  // A whitespace run leaves its last space to the next word; bytes >= 0x80 count as letters.
  const std::vector<std::string> expected = {"Hello",
                                             " ",
                                             " world",
                                             "\n\n",
                                             " 42",
                                             " foo",
                                             "!!",
                                             " \xc3\xa9t\xc3\xa9"
                                             "a",
                                             "1",
                                             "x",
                                             "1",
                                             " \t  "};
  EXPECT_EQ(pretokenize("Hello  world\n\n 42 foo!! \xc3\xa9t\xc3\xa9"
                        "a1x1 \t  "),
            expected);
  EXPECT_TRUE(pretokenize("").empty());
}

TEST(TokenizerBpe, RoundTripsVariedStrings) {
  const auto& tokenizer = trained();
  EXPECT_EQ(tokenizer.kind(), "bpe");
  for (const auto& text : varied_strings())
    EXPECT_EQ(tokenizer.decode(tokenizer.encode(text)), text);
  for (const auto& text : corpus()) EXPECT_EQ(tokenizer.decode(tokenizer.encode(text)), text);
}

TEST(TokenizerBpe, TrainingIsDeterministic) {
  auto texts = corpus();
  const auto first = Tokenizer::train_bpe(texts, 400);
  EXPECT_EQ(first.merges(), trained().merges());
  // The order of the texts does not matter either: ties go to the smaller pair.
  std::reverse(texts.begin(), texts.end());
  const auto reversed = Tokenizer::train_bpe(texts, 400);
  EXPECT_EQ(reversed.merges(), first.merges());
  for (const auto& text : varied_strings()) EXPECT_EQ(reversed.encode(text), first.encode(text));
}

/// BPE without incremental counts: recounts every pair before each merge.
std::vector<std::pair<int64_t, int64_t>> naive_bpe(const std::vector<std::string>& texts,
                                                   int64_t vocab_size) {
  std::map<std::string, int64_t> chunk_counts;
  for (const auto& text : texts)
    for (const auto& chunk : pretokenize(text)) ++chunk_counts[chunk];
  std::vector<std::pair<std::vector<int64_t>, int64_t>> words;  // (symbols, count)
  for (const auto& [chunk, count] : chunk_counts) {
    std::vector<int64_t> symbols;
    for (const char c : chunk) symbols.push_back(kFirstByteId + static_cast<unsigned char>(c));
    words.emplace_back(symbols, count);
  }
  std::vector<std::pair<int64_t, int64_t>> merges;
  while (kByteVocab + static_cast<int64_t>(merges.size()) < vocab_size) {
    std::map<std::pair<int64_t, int64_t>, int64_t> pair_counts;  // ordered: ties to the smaller
    for (const auto& [symbols, count] : words)
      for (size_t i = 0; i + 1 < symbols.size(); ++i)
        pair_counts[{symbols[i], symbols[i + 1]}] += count;
    std::pair<int64_t, int64_t> best;
    int64_t best_count = 1;
    for (const auto& [pair, count] : pair_counts) {
      if (count > best_count) std::tie(best, best_count) = std::tie(pair, count);
    }
    if (best_count < 2) break;
    const int64_t merged = kByteVocab + static_cast<int64_t>(merges.size());
    merges.push_back(best);
    for (auto& [symbols, count] : words) {
      std::vector<int64_t> out;
      for (size_t i = 0; i < symbols.size(); ++i) {
        const bool match =
            i + 1 < symbols.size() && symbols[i] == best.first && symbols[i + 1] == best.second;
        out.push_back(match ? merged : symbols[i]);
        i += match;
      }
      symbols = out;
    }
  }
  return merges;
}

TEST(TokenizerBpe, IncrementalTrainingMatchesNaiveRecount) {
  auto texts = corpus();
  const auto varied = varied_strings();
  texts.insert(texts.end(), varied.begin(), varied.end());
  EXPECT_EQ(Tokenizer::train_bpe(texts, 600).merges(), naive_bpe(texts, 600));
  EXPECT_EQ(trained().merges(), naive_bpe(corpus(), 400));
}

TEST(TokenizerBpe, ReachesTheRequestedVocabSize) {
  EXPECT_EQ(trained().vocab_size(), 400);
  EXPECT_EQ(trained().merges().size(), 140u);
  EXPECT_EQ(Tokenizer::train_bpe(corpus(), kByteVocab).vocab_size(), kByteVocab);
  EXPECT_PRED2(contains, error_message([] { Tokenizer::train_bpe(corpus(), 100); }),
               "vocab_size 100 is below 260");
}

TEST(TokenizerBpe, CompressesItsTrainingText) {
  size_t n_bytes = 0, n_tokens = 0;
  for (const auto& text : corpus()) {
    n_bytes += text.size();
    n_tokens += trained().encode(text).size();
  }
  EXPECT_LT(n_tokens * 3, n_bytes);  // a small vocabulary for a tiny corpus of few words
}

TEST(TokenizerBpe, FrequentWordBecomesOneToken) {
  const auto ids = trained().encode(" layerwise");
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_GE(ids[0], kByteVocab);
  EXPECT_EQ(trained().token_text(ids[0]), " layerwise");
  // The same word inside a longer text is the same token.
  const auto sentence = trained().encode("the layerwise model");
  EXPECT_NE(std::find(sentence.begin(), sentence.end(), ids[0]), sentence.end());
}

TEST(TokenizerBpe, BreaksTiesBySmallerPairAndStopsWithoutRepeatedPairs) {
  // Chunks "ab", " ab", " ab", "\n", "cd", " cd", " cd": the pairs (a, b) and (c, d) occur 3
  // times each, (" ", ab) and (" ", cd) then twice each, nothing else twice.
  const auto tokenizer = Tokenizer::train_bpe({"ab ab ab\ncd cd cd"}, 1000);
  const int64_t a = kFirstByteId + 'a', b = kFirstByteId + 'b', c = kFirstByteId + 'c',
                d = kFirstByteId + 'd', space = kFirstByteId + ' ';
  const std::vector<std::pair<int64_t, int64_t>> expected = {
      {a, b}, {c, d}, {space, kByteVocab}, {space, kByteVocab + 1}};
  EXPECT_EQ(tokenizer.merges(), expected);
  EXPECT_EQ(tokenizer.vocab_size(), kByteVocab + 4);
  EXPECT_EQ(tokenizer.encode("ab cd"), (std::vector<int64_t>{kByteVocab, kByteVocab + 3}));
}

TEST(TokenizerBpe, MergesApplyLeftToRightLikeTraining) {
  // "aaaaa" holds the pair (a, a) at every position; merging takes non-overlapping ones from the
  // left: aa aa a.
  const int64_t a = kFirstByteId + 'a';
  const auto tokenizer = Tokenizer::from_merges({{a, a}});
  EXPECT_EQ(tokenizer.encode("aaaaa"), (std::vector<int64_t>{kByteVocab, kByteVocab, a}));
  EXPECT_PRED2(contains, error_message([&] {
                 Tokenizer::from_merges({{a, kByteVocab}});
               }),
               "merge 0 [101, 260] uses an id outside 4..259");
}

TEST(TokenizerBpe, EncodePrefixMatchesEncode) {
  const auto& tokenizer = trained();
  const std::string text = corpus()[0];
  const auto all = tokenizer.encode(text);
  for (const int64_t limit : {int64_t{0}, int64_t{1}, int64_t{5}, static_cast<int64_t>(all.size()),
                              static_cast<int64_t>(all.size()) + 3}) {
    bool truncated = false;
    const auto prefix = tokenizer.encode_prefix(text, limit, truncated);
    const auto n = std::min<size_t>(static_cast<size_t>(limit), all.size());
    EXPECT_EQ(prefix, std::vector<int64_t>(all.begin(), all.begin() + n)) << limit;
    EXPECT_EQ(truncated, limit < static_cast<int64_t>(all.size())) << limit;
  }
}

TEST(TokenizerFile, SaveLoadRoundTrip) {
  const std::string dir = temp_dir("tokenizer_file");
  trained().save(dir + "/tokenizer.json");
  const auto loaded = Tokenizer::load(dir + "/tokenizer.json");
  EXPECT_EQ(loaded.kind(), "bpe");
  EXPECT_EQ(loaded.vocab_size(), trained().vocab_size());
  EXPECT_EQ(loaded.merges(), trained().merges());
  for (const auto& text : varied_strings()) EXPECT_EQ(loaded.encode(text), trained().encode(text));
  for (const auto& text : corpus()) EXPECT_EQ(loaded.encode(text), trained().encode(text));

  Tokenizer::bytes().save(dir + "/bytes.json");
  const auto bytes = Tokenizer::load(dir + "/bytes.json");
  EXPECT_EQ(bytes.kind(), "byte");
  EXPECT_EQ(bytes.vocab_size(), kByteVocab);
  const auto json = nlohmann::json::parse(layerwise::read_file(dir + "/tokenizer.json"));
  EXPECT_EQ(json.at("kind"), "bpe");
  EXPECT_EQ(json.at("version"), 1);
  EXPECT_EQ(json.at("special"), nlohmann::json({"<pad>", "<cls>", "<bos>", "<eos>"}));
  EXPECT_EQ(json.at("merges").size(), 140u);
}

TEST(TokenizerFile, LoadRefusesBadFiles) {
  const std::string dir = temp_dir("tokenizer_errors");
  const auto load_error = [&](const std::string& name, const std::string& text) {
    const std::string path = dir + "/" + name;
    write_text(path, text);
    const std::string message = error_message([&] { Tokenizer::load(path); });
    EXPECT_PRED2(contains, message, path);
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  };
  const std::string missing = dir + "/missing.json";
  const std::string message = error_message([&] { Tokenizer::load(missing); });
  EXPECT_PRED2(contains, message, missing);
  EXPECT_PRED2(contains, message, "cannot open");
  EXPECT_PRED2(contains, load_error("bad.json", "{\"kind\": \"bpe\", "), "not valid JSON");
  EXPECT_PRED2(contains, load_error("list.json", "[1, 2]"), "expected a JSON object");
  EXPECT_PRED2(contains, load_error("kind.json", R"({"kind": "wordpiece", "version": 1})"),
               "unknown tokenizer kind \"wordpiece\"");
  EXPECT_PRED2(contains, load_error("version.json", R"({"kind": "bpe", "version": 7})"),
               "unsupported tokenizer version 7");
  EXPECT_PRED2(
      contains,
      load_error("range.json", R"({"kind": "bpe", "version": 1, "merges": [[4, 5], [6, 262]]})"),
      "merge 1 [6, 262] uses an id outside 4..260");
  EXPECT_PRED2(contains,
               load_error("special.json", R"({"kind": "bpe", "version": 1, "merges": [[0, 5]]})"),
               "merge 0 [0, 5] uses an id outside");
  EXPECT_PRED2(contains,
               load_error("shape.json", R"({"kind": "bpe", "version": 1, "merges": [[4, 5, 6]]})"),
               "merge 0 is [4,5,6], not a pair of integer ids");
}

TEST(TokenizerBatch, ShapesPaddingAndMask) {
  const auto tokenizer = Tokenizer::bytes();
  EncodeOptions options;
  options.max_len = 6;
  const auto batch = encode_batch(tokenizer, {"abc", "", "abcdef"}, options);
  EXPECT_EQ(batch.ids.sizes(), (std::vector<int64_t>{3, 6}));
  EXPECT_EQ(batch.mask.sizes(), (std::vector<int64_t>{3, 6}));
  EXPECT_EQ(batch.ids.scalar_type(), torch::kInt64);
  EXPECT_EQ(batch.mask.scalar_type(), torch::kBool);
  const int64_t a = kFirstByteId + 'a';
  const auto expected_ids = torch::tensor({a, a + 1, a + 2, kPadId, kPadId, kPadId,  //
                                           kPadId, kPadId, kPadId, kPadId, kPadId, kPadId, a, a + 1,
                                           a + 2, a + 3, a + 4, a + 5},
                                          torch::kInt64)
                                .view({3, 6});
  EXPECT_TRUE(torch::equal(batch.ids, expected_ids));
  EXPECT_EQ(to_vector(batch.mask.sum(1)), (std::vector<int64_t>{3, 0, 6}));
}

TEST(TokenizerBatch, TruncatesToMaxLen) {
  EncodeOptions options;
  options.max_len = 4;
  const auto batch = encode_batch(trained(), {corpus()[0]}, options);
  const auto all = trained().encode(corpus()[0]);
  ASSERT_GT(all.size(), 4u);
  EXPECT_EQ(batch.ids.sizes(), (std::vector<int64_t>{1, 4}));
  for (int64_t t = 0; t < 4; ++t) EXPECT_EQ(batch.ids[0][t].item<int64_t>(), all[t]);
  EXPECT_TRUE(batch.mask.all().item<bool>());
}

TEST(TokenizerBatch, PlacesSpecialTokens) {
  const auto tokenizer = Tokenizer::bytes();
  EncodeOptions options;
  options.max_len = 8;
  options.prepend_cls = options.prepend_bos = options.append_eos = true;
  const auto batch = encode_batch(tokenizer, {"hi"}, options);
  const int64_t h = kFirstByteId + 'h', i = kFirstByteId + 'i';
  EXPECT_TRUE(torch::equal(
      batch.ids,
      torch::tensor({kClsId, kBosId, h, i, kEosId, kPadId, kPadId, kPadId}).view({1, 8})));
  EXPECT_EQ(batch.mask.sum().item<int64_t>(), 5);
  EXPECT_EQ(tokenizer.decode({kClsId, kBosId, h, i, kEosId}), "hi");

  options.prepend_cls = false;
  const auto bos_only = encode_batch(tokenizer, {"hi"}, options);
  EXPECT_EQ(bos_only.ids[0][0].item<int64_t>(), kBosId);
  EXPECT_EQ(bos_only.ids[0][3].item<int64_t>(), kEosId);

  options.max_len = 2;
  options.prepend_cls = true;
  EXPECT_PRED2(contains, error_message([&] { encode_batch(tokenizer, {"hi"}, options); }),
               "max_len 2 leaves no room");
}

TEST(TokenizerBatch, NoEosWhenTruncated) {
  const auto tokenizer = Tokenizer::bytes();
  EncodeOptions options;
  options.max_len = 4;
  options.prepend_bos = options.append_eos = true;
  const int64_t a = kFirstByteId + 'a';
  // Fits with <eos>; fits without it (no room for <eos>); truncated.
  const auto batch = encode_batch(tokenizer, {"ab", "abc", "abcdef"}, options);
  const auto expected = torch::tensor({kBosId, a, a + 1, kEosId,  //
                                       kBosId, a, a + 1, a + 2,   //
                                       kBosId, a, a + 1, a + 2})
                            .view({3, 4});
  EXPECT_TRUE(torch::equal(batch.ids, expected));
  EXPECT_TRUE(batch.mask.all().item<bool>());
}

TEST(TokenizerBatch, PadFalsePadsToTheLongest) {
  const auto tokenizer = Tokenizer::bytes();
  EncodeOptions options;
  options.max_len = 100;
  options.pad = false;
  options.append_eos = true;
  const auto batch = encode_batch(tokenizer, {"a", "abcd", ""}, options);
  EXPECT_EQ(batch.ids.sizes(), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(to_vector(batch.mask.sum(1)), (std::vector<int64_t>{2, 5, 1}));
  EXPECT_EQ(batch.ids[2][0].item<int64_t>(), kEosId);
  EXPECT_EQ(batch.ids[2][1].item<int64_t>(), kPadId);
  EXPECT_FALSE(batch.mask[2][1].item<bool>());

  const auto empty = encode_batch(tokenizer, {}, options);
  EXPECT_EQ(empty.ids.sizes(), (std::vector<int64_t>{0, 0}));
}

}  // namespace
}  // namespace layerwise::data
