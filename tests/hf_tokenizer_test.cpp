// Hugging Face's tokenizers reproduced: the ids of BERT's WordPiece and GPT-2's byte-level BPE on
// varied texts equal those that `tokenizers` / `transformers` gave for the same vocabularies
// (tests/fixtures/hf/tokenizers, made by scripts/hf_fixtures.py).

#include <nlohmann/json.hpp>

#include "layerwise/data/hf_tokenizers.h"
#include "test_util.h"

namespace ld = layerwise::data;
using layerwise::testing::fixture;

namespace {

nlohmann::json cases() {
  return layerwise::testing::read_json(fixture("hf/tokenizers/cases.json"));
}

}  // namespace

TEST(HfTokenizers, Utf8RoundTripAndInvalidBytes) {
  const std::string text = "aé日🙂";
  const auto codepoints = ld::utf8_to_codepoints(text);
  EXPECT_EQ(codepoints, (std::u32string{U'a', U'é', U'日', U'🙂'}));
  EXPECT_EQ(ld::codepoints_to_utf8(codepoints), text);
  EXPECT_EQ(ld::utf8_to_codepoints("a\xff"
                                   "b"),
            (std::u32string{U'a', 0xFFFD, U'b'}));
}

TEST(HfTokenizers, WordPieceMatchesBertTokenizer) {
  const auto wordpiece = ld::WordPieceTokenizer::load(fixture("hf/tokenizers/wordpiece/vocab.txt"));
  EXPECT_EQ(wordpiece.vocab_size(), 300);
  const auto c = cases();
  const auto& texts = c.at("texts");
  ASSERT_EQ(texts.size(), 15u);
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto text = texts[i].get<std::string>();
    // transformers' BertTokenizerFast: [CLS] ... [SEP]; the bare trained model: without them.
    EXPECT_EQ(wordpiece.encode(text), c.at("wordpiece_transformers")[i].get<std::vector<int64_t>>())
        << text;
    EXPECT_EQ(wordpiece.encode(text, false), c.at("wordpiece")[i].get<std::vector<int64_t>>())
        << text;
    EXPECT_EQ(wordpiece.tokenize(text), c.at("wordpiece_tokens")[i].get<std::vector<std::string>>())
        << text;
  }
}

TEST(HfTokenizers, ByteLevelBpeMatchesGpt2Tokenizer) {
  const auto bpe = ld::ByteLevelBpeTokenizer::load(fixture("hf/tokenizers/bpe/vocab.json"),
                                                   fixture("hf/tokenizers/bpe/merges.txt"));
  EXPECT_EQ(bpe.vocab_size(), 400);
  const auto c = cases();
  const auto& texts = c.at("texts");
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto text = texts[i].get<std::string>();
    EXPECT_EQ(bpe.encode(text), c.at("bpe")[i].get<std::vector<int64_t>>()) << text;
    EXPECT_EQ(bpe.encode(text), c.at("bpe_transformers")[i].get<std::vector<int64_t>>()) << text;
    EXPECT_EQ(bpe.tokenize(text), c.at("bpe_tokens")[i].get<std::vector<std::string>>()) << text;
    EXPECT_EQ(bpe.decode(bpe.encode(text)), text);
  }
}

TEST(HfTokenizers, Gpt2PreTokenizerPattern) {
  using Pieces = std::vector<std::string>;
  EXPECT_EQ(ld::ByteLevelBpeTokenizer::pre_tokenize("I'm here!!"),
            (Pieces{"I", "'m", " here", "!!"}));
  EXPECT_EQ(ld::ByteLevelBpeTokenizer::pre_tokenize("x\t\ty"), (Pieces{"x", "\t", "\t", "y"}));
  EXPECT_EQ(ld::ByteLevelBpeTokenizer::pre_tokenize("a   b  "), (Pieces{"a", "  ", " b", "  "}));
  EXPECT_EQ(ld::ByteLevelBpeTokenizer::pre_tokenize("12ab 3.5"),
            (Pieces{"12", "ab", " 3", ".", "5"}));
}

TEST(HfTokenizers, ClearErrors) {
  const auto dir = layerwise::testing::temp_dir("hf_tokenizers");
  EXPECT_NE(layerwise::testing::error_message([&] {
              ld::WordPieceTokenizer::load(dir + "/missing.txt");
            }).find("no such file"),
            std::string::npos);
  std::ofstream(dir + "/vocab.txt") << "[PAD]\nhello\n";
  EXPECT_NE(layerwise::testing::error_message([&] {
              ld::WordPieceTokenizer::load(dir + "/vocab.txt");
            }).find("has no [UNK]"),
            std::string::npos);
  std::ofstream(dir + "/vocab.json") << "{\"a\": 0, \"b\": 1}";
  std::ofstream(dir + "/merges.txt") << "#version: 0.2\na b\nbad line here\n";
  EXPECT_NE(layerwise::testing::error_message([&] {
              ld::ByteLevelBpeTokenizer::load(dir + "/vocab.json", dir + "/merges.txt");
            }).find("merges.txt:3"),
            std::string::npos);
}
