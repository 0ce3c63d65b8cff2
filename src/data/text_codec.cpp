#include "layerwise/data/text_codec.h"

#include <memory>

#include <nlohmann/json.hpp>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/data/tokenizer.h"
#ifdef LAYERWISE_HAS_ICU
#include "layerwise/data/hf_tokenizers.h"
#endif

namespace layerwise::data {

namespace {

std::vector<int64_t> first_ids(std::vector<int64_t> ids, int64_t max_ids) {
  if (max_ids >= 0 && int64_t(ids.size()) > max_ids) ids.resize(size_t(max_ids));
  return ids;
}

TextCodec own_codec(const DataConfig& c, const std::string& run_dir,
                    const std::vector<std::string>* train_texts) {
  const auto path = (run_dir.empty() ? std::string(".") : run_dir) + "/tokenizer.json";
  std::shared_ptr<Tokenizer> tokenizer;
  if (file_exists(path)) {
    tokenizer = std::make_shared<Tokenizer>(Tokenizer::load(path));
  } else {
    LW_CHECK(train_texts, "'", path, "' is missing: the run's tokenizer is saved there when ",
             "training starts");
    tokenizer = std::make_shared<Tokenizer>(c.tokenizer == TokenizerKind::byte
                                                ? Tokenizer::bytes()
                                                : Tokenizer::train_bpe(*train_texts, c.vocab_size));
    if (!run_dir.empty()) tokenizer->save(path);
  }
  TextCodec codec;
  codec.encode = [tokenizer](const std::string& text, int64_t max_ids) {
    if (max_ids < 0) return tokenizer->encode(text);
    bool truncated = false;
    return tokenizer->encode_prefix(text, max_ids, truncated);
  };
  codec.vocab_size = tokenizer->vocab_size();
  codec.pad = kPadId;
  codec.first = kClsId;
  codec.bos = kBosId;
  codec.eos = kEosId;
  return codec;
}

#ifdef LAYERWISE_HAS_ICU
std::string need(const std::string& run_dir, const std::string& name) {
  const auto path = run_dir + "/" + name;
  LW_CHECK(file_exists(path), "'", path, "' is missing: runs of imported models keep their ",
           "tokenizer's files (layerwise import copies them)");
  return path;
}

TextCodec wordpiece_codec(const std::string& run_dir) {
  WordPieceTokenizer::Options options;
  const auto config_path = run_dir + "/tokenizer_config.json";
  if (file_exists(config_path)) {
    try {
      const auto j = nlohmann::json::parse(read_file(config_path));
      options.lower_case = j.value("do_lower_case", true);
      if (j.contains("strip_accents") && j["strip_accents"].is_boolean())
        options.strip_accents = j["strip_accents"].get<bool>() ? 1 : 0;
      options.chinese_chars = j.value("tokenize_chinese_chars", true);
    } catch (const nlohmann::json::exception& e) {
      throw Error(str_cat(config_path, ": ", e.what()));
    }
  }
  auto tokenizer = std::make_shared<WordPieceTokenizer>(
      WordPieceTokenizer::load(need(run_dir, "vocab.txt"), options));
  TextCodec codec;
  codec.encode = [tokenizer](const std::string& text, int64_t max_ids) {
    return first_ids(tokenizer->encode(text, /*add_special_tokens=*/false), max_ids);
  };
  codec.vocab_size = tokenizer->vocab_size();
  codec.pad = tokenizer->token_id("[PAD]");
  codec.first = tokenizer->token_id("[CLS]");
  codec.last = tokenizer->token_id("[SEP]");
  return codec;
}

TextCodec gpt2_codec(const std::string& run_dir) {
  const auto vocab = need(run_dir, "vocab.json");  // checked first: the file users forget
  const auto merges = need(run_dir, "merges.txt");
  auto tokenizer =
      std::make_shared<ByteLevelBpeTokenizer>(ByteLevelBpeTokenizer::load(vocab, merges));
  TextCodec codec;
  codec.encode = [tokenizer](const std::string& text, int64_t max_ids) {
    return first_ids(tokenizer->encode(text), max_ids);
  };
  codec.vocab_size = tokenizer->vocab_size();
  // <|endoftext|> separates documents when the vocabulary has it (GPT-2's does).
  codec.eos = tokenizer->find_id("<|endoftext|>");
  return codec;
}
#endif

}  // namespace

std::vector<std::string> hf_tokenizer_files(TokenizerKind kind) {
  if (kind == TokenizerKind::wordpiece) return {"vocab.txt", "tokenizer_config.json"};
  if (kind == TokenizerKind::gpt2) return {"vocab.json", "merges.txt"};
  return {};
}

TextCodec run_text_codec(const DataConfig& c, const std::string& run_dir,
                         const std::vector<std::string>* train_texts) {
  switch (c.tokenizer) {
    case TokenizerKind::bpe:
    case TokenizerKind::byte:
      return own_codec(c, run_dir, train_texts);
#ifdef LAYERWISE_HAS_ICU
    case TokenizerKind::wordpiece:
      return wordpiece_codec(run_dir);
    case TokenizerKind::gpt2:
      return gpt2_codec(run_dir);
#else
    default:
      throw Error(str_cat("data.tokenizer ", c.tokenizer,
                          " needs a build with ICU (cmake -DLAYERWISE_ICU=ON)"));
#endif
  }
  throw Error("unreachable tokenizer kind");
}

}  // namespace layerwise::data
