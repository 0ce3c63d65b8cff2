// Text corpora: the SpamAssassin e-mails (fetched by scripts/fetch_spam_assassin.sh), JSON Lines
// files of labelled texts, plain text files for language modelling, and their seeded
// train / validation / test splits, the same on every machine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "layerwise/core/enum_names.h"
#include "layerwise/data/stratified_split.h"

namespace layerwise::data {

/// SpamAssassin labels: binary (ham 0, spam 1) or groups (easy_ham 0, hard_ham 1, spam 2).
enum class LabelScheme { binary, groups };

/// Labelled (or unlabelled) documents.
struct TextCorpus {
  std::vector<std::string> texts;
  std::vector<int64_t> labels;           // one per text; empty for unlabelled corpora
  std::vector<std::string> class_names;  // label id -> name
};

/// The cache folder the set-up script fills: $LAYERWISE_DATA/spam-assassin, else
/// ${XDG_CACHE_HOME:-$HOME/.cache}/layerwise/spam-assassin.
std::string default_spam_assassin_dir();

/// The SpamAssassin corpus in `dir` (folders easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2 of
/// JSON files with a string "text"), labelled by `labels`. Files are read in sorted path order so
/// that the corpus is the same everywhere. strip_headers keeps each message's body only (see
/// strip_mail_headers).
TextCorpus load_spam_assassin(const std::string& dir, LabelScheme labels = LabelScheme::binary,
                              bool strip_headers = false);

/// The body of an e-mail: what follows its first blank line (LF or CRLF line ends). A message
/// without a blank line is all headers and has an empty body.
std::string strip_mail_headers(const std::string& message);

/// JSON Lines: one object per line with a string "text" and a "label", either all strings or all
/// non-negative integers. String labels get ids in sorted order of their names; integer labels are
/// used as given, with class_names "0".."K-1" for the largest label K-1. Blank lines are skipped.
/// Errors name the file and line, e.g. "data.jsonl:17: not valid JSON (...)".
TextCorpus load_jsonl(const std::string& path);

/// Plain text for language modelling: documents separated by one or more blank (or whitespace
/// only) lines, each document's lines joined with "\n" (CRLF read as LF); no labels.
TextCorpus load_text_file(const std::string& path);

/// stratified_split (data/stratified_split.h) of the corpus's documents by their labels.
SplitIndex split_indices(const TextCorpus& corpus, double val_fraction, double test_fraction,
                         uint64_t seed);

/// The documents at `index`, in that order, with the corpus's class names.
TextCorpus subset(const TextCorpus& corpus, const std::vector<int64_t>& index);

struct TextSplits {
  TextCorpus train, val, test;
};

/// The corpus split by split_indices, each part in split_indices' order.
TextSplits split_corpus(const TextCorpus& corpus, double val_fraction, double test_fraction,
                        uint64_t seed);

}  // namespace layerwise::data

namespace layerwise {
template <>
struct EnumNames<data::LabelScheme> {
  static constexpr std::pair<data::LabelScheme, const char*> values[] = {
      {data::LabelScheme::binary, "binary"}, {data::LabelScheme::groups, "groups"}};
};
}  // namespace layerwise
