// Tests of the text corpora: SpamAssassin (the real corpus when fetched, and small hand-made
// folders), JSON Lines and plain text files. The splits are in text_split_test.cpp.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "layerwise/core/error.h"
#include "layerwise/data/task_data.h"
#include "layerwise/data/text_corpus.h"
#include "test_util.h"

namespace layerwise::data {
namespace {

using layerwise::testing::label_counts;
using layerwise::testing::write_text;

using layerwise::testing::contains;
using layerwise::testing::error_message;

/// Sets an environment variable for one scope and restores it (or its absence) afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~ScopedEnv() { had_ ? ::setenv(name_, old_.c_str(), 1) : ::unsetenv(name_); }

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

/// Each test gets its own empty folder, removed afterwards.
class TextFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = layerwise::testing::temp_dir(str_cat("text_corpus_", counter++));
  }
  void TearDown() override { layerwise::testing::remove_tree(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  /// Writes `contents` to `name` and returns load_jsonl's error message for it.
  std::string jsonl_error(const std::string& contents) {
    write_text(path("data.jsonl"), contents);
    return error_message([&] { load_jsonl(path("data.jsonl")); });
  }

  /// A SpamAssassin-shaped folder with one message per group, plus a second easy-ham-1 message
  /// whose name sorts first though it is written last.
  std::string fake_spam_corpus() {
    const std::string root = path("spam-assassin");
    for (const char* group : {"easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"}) {
      std::filesystem::create_directories(root + "/" + group);
      write_text(
          str_cat(root, "/", group, "/00002.abc.json"),
          str_cat(R"({"id":"00002","text":"Subject: )", group, R"(\n\nbody of )", group, R"("})"));
      write_text(str_cat(root, "/", group, "/00002.abc.txt"), "ignored");
    }
    write_text(root + "/easy-ham-1/00001.abc.json", R"({"text":"Subject: first\r\n\r\nhello"})");
    return root;
  }

  std::string dir_;
};

// --- the real corpus, when scripts/fetch_spam_assassin.sh has fetched it --------------------

bool have_spam_assassin() {
  return std::filesystem::is_directory(default_spam_assassin_dir());
}

/// Loaded once: the tests below only read it.
const TextCorpus& real_corpus(bool strip_headers) {
  static const TextCorpus raw =
      load_spam_assassin(default_spam_assassin_dir(), LabelScheme::groups, false);
  static const TextCorpus stripped =
      load_spam_assassin(default_spam_assassin_dir(), LabelScheme::groups, true);
  return strip_headers ? stripped : raw;
}

TEST(TextCorpusSpamAssassinReal, GroupCounts) {
  if (!have_spam_assassin()) GTEST_SKIP() << default_spam_assassin_dir() << " absent";
  const auto& corpus = real_corpus(false);
  ASSERT_EQ(corpus.texts.size(), 6046u);
  ASSERT_EQ(corpus.labels.size(), 6046u);
  EXPECT_EQ(corpus.class_names, (std::vector<std::string>{"easy_ham", "hard_ham", "spam"}));
  // easy-ham-1 2500 + easy-ham-2 1400; hard-ham-1 250; spam-1 500 + spam-2 1396.
  EXPECT_EQ(label_counts(corpus.labels),
            (std::map<int64_t, int64_t>{{0, 3900}, {1, 250}, {2, 1896}}));
}

TEST(TextCorpusSpamAssassinReal, BinaryLabelsMergeTheHamGroups) {
  if (!have_spam_assassin()) GTEST_SKIP() << default_spam_assassin_dir() << " absent";
  const auto binary = load_spam_assassin(default_spam_assassin_dir(), LabelScheme::binary, false);
  const auto& groups = real_corpus(false);
  EXPECT_EQ(binary.class_names, (std::vector<std::string>{"ham", "spam"}));
  EXPECT_EQ(label_counts(binary.labels), (std::map<int64_t, int64_t>{{0, 4150}, {1, 1896}}));
  ASSERT_EQ(binary.labels.size(), groups.labels.size());
  for (size_t i = 0; i < binary.labels.size(); ++i)
    ASSERT_EQ(binary.labels[i], groups.labels[i] == 2 ? 1 : 0) << i;
  EXPECT_EQ(binary.texts, groups.texts);
}

TEST(TextCorpusSpamAssassinReal, SortedPathOrder) {
  if (!have_spam_assassin()) GTEST_SKIP() << default_spam_assassin_dir() << " absent";
  const auto& corpus = real_corpus(false);
  // easy-ham-1/00001.7c53336b37003a9286aba55d2945844c.json comes first.
  EXPECT_EQ(
      corpus.texts.front().rfind("From exmh-workers-admin@redhat.com  Thu Aug 22 12:36:23", 0), 0u);
  // Groups in folder order: labels never decrease.
  EXPECT_TRUE(std::is_sorted(corpus.labels.begin(), corpus.labels.end()));
}

TEST(TextCorpusSpamAssassinReal, StripHeadersKeepsTheBody) {
  if (!have_spam_assassin()) GTEST_SKIP() << default_spam_assassin_dir() << " absent";
  const auto& raw = real_corpus(false);
  const auto& stripped = real_corpus(true);
  ASSERT_EQ(stripped.texts.size(), raw.texts.size());
  EXPECT_EQ(stripped.labels, raw.labels);
  for (size_t i = 0; i < raw.texts.size(); ++i) {
    ASSERT_EQ(stripped.texts[i], strip_mail_headers(raw.texts[i])) << i;
    ASSERT_LT(stripped.texts[i].size(), raw.texts[i].size()) << i;  // every message has headers
  }
  EXPECT_PRED2(contains, raw.texts[0], "Received: from localhost");
  EXPECT_FALSE(contains(stripped.texts[0], "Received:"));
  EXPECT_FALSE(contains(stripped.texts[0], "Return-Path:"));
  EXPECT_EQ(stripped.texts[0].rfind("    Date:        Wed, 21 Aug 2002 10:54:46 -0500\n", 0), 0u);
  EXPECT_PRED2(contains, stripped.texts[0], "For me it is very repeatable");
}

TEST(TextCorpusSpamAssassinReal, SameCorpusOnEveryLoad) {
  if (!have_spam_assassin()) GTEST_SKIP() << default_spam_assassin_dir() << " absent";
  const auto start = std::chrono::steady_clock::now();
  const auto again = load_spam_assassin(default_spam_assassin_dir(), LabelScheme::groups, false);
  const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
  std::cout << "loaded " << again.texts.size() << " messages in " << seconds.count() << " s\n";
  EXPECT_EQ(again.texts, real_corpus(false).texts);
  EXPECT_EQ(again.labels, real_corpus(false).labels);
}

TEST(TextCorpusSpamAssassinReal, StratifiedSplit) {
  if (!have_spam_assassin()) GTEST_SKIP() << default_spam_assassin_dir() << " absent";
  const auto split = split_indices(real_corpus(false), 0.1, 0.2, 7);
  EXPECT_EQ(split.train.size() + split.val.size() + split.test.size(), 6046u);
  const auto& labels = real_corpus(false).labels;
  std::vector<int64_t> test_labels;
  for (const int64_t i : split.test) test_labels.push_back(labels[i]);
  EXPECT_EQ(label_counts(test_labels), (std::map<int64_t, int64_t>{{0, 780}, {1, 50}, {2, 379}}));
}

// --- SpamAssassin folders made by hand ---------------------------------------------------------

using TextCorpusSpamAssassin = TextFiles;

TEST_F(TextCorpusSpamAssassin, LabelsAndSortedOrder) {
  const auto groups = load_spam_assassin(fake_spam_corpus(), LabelScheme::groups, false);
  ASSERT_EQ(groups.texts.size(), 6u);
  EXPECT_EQ(groups.texts[0], "Subject: first\r\n\r\nhello");  // 00001 before 00002
  EXPECT_EQ(groups.texts[1], "Subject: easy-ham-1\n\nbody of easy-ham-1");
  EXPECT_EQ(groups.texts[5], "Subject: spam-2\n\nbody of spam-2");
  EXPECT_EQ(groups.labels, (std::vector<int64_t>{0, 0, 0, 1, 2, 2}));
  const auto binary = load_spam_assassin(fake_spam_corpus(), LabelScheme::binary, false);
  EXPECT_EQ(binary.labels, (std::vector<int64_t>{0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(binary.class_names, (std::vector<std::string>{"ham", "spam"}));
}

TEST_F(TextCorpusSpamAssassin, StripHeaders) {
  const auto corpus = load_spam_assassin(fake_spam_corpus(), LabelScheme::binary, true);
  EXPECT_EQ(corpus.texts[0], "hello");
  EXPECT_EQ(corpus.texts[3], "body of hard-ham-1");
}

TEST_F(TextCorpusSpamAssassin, MissingFolderSaysHowToFix) {
  const auto message =
      error_message([&] { load_spam_assassin(path("nowhere"), LabelScheme::binary, false); });
  EXPECT_PRED2(contains, message, path("nowhere"));
  EXPECT_PRED2(contains, message, "scripts/setup.sh");
  EXPECT_PRED2(contains, message, "scripts/fetch_spam_assassin.sh");
}

TEST_F(TextCorpusSpamAssassin, MissingGroupFolder) {
  const std::string root = fake_spam_corpus();
  std::filesystem::remove(root + "/hard-ham-1/00002.abc.json");
  std::filesystem::remove(root + "/hard-ham-1/00002.abc.txt");
  std::filesystem::remove(root + "/hard-ham-1");
  const auto message = error_message([&] { load_spam_assassin(root, LabelScheme::binary, false); });
  EXPECT_PRED2(contains, message, root + "/hard-ham-1");
  EXPECT_PRED2(contains, message, "scripts/fetch_spam_assassin.sh");
}

TEST_F(TextCorpusSpamAssassin, EmptyGroupFolder) {
  const std::string root = fake_spam_corpus();
  std::filesystem::remove(root + "/spam-1/00002.abc.json");
  EXPECT_PRED2(contains,
               error_message([&] { load_spam_assassin(root, LabelScheme::binary, false); }),
               "holds no .json files");
}

TEST_F(TextCorpusSpamAssassin, FileNotJsonNamesIt) {
  const std::string root = fake_spam_corpus();
  write_text(root + "/spam-2/00003.bad.json", "{\"text\": \"cut sh");
  const auto message = error_message([&] { load_spam_assassin(root, LabelScheme::binary, false); });
  EXPECT_PRED2(contains, message, root + "/spam-2/00003.bad.json: not valid JSON");
}

TEST_F(TextCorpusSpamAssassin, FileWithoutStringTextNamesIt) {
  const std::string root = fake_spam_corpus();
  write_text(root + "/spam-1/00003.bad.json", R"({"text": 3})");
  auto message = error_message([&] { load_spam_assassin(root, LabelScheme::binary, false); });
  EXPECT_PRED2(contains, message, root + "/spam-1/00003.bad.json: expected a JSON object");
  write_text(root + "/spam-1/00003.bad.json", R"({"body": "x"})");
  message = error_message([&] { load_spam_assassin(root, LabelScheme::binary, false); });
  EXPECT_PRED2(contains, message, root + "/spam-1/00003.bad.json");
}

TEST_F(TextCorpusSpamAssassin, UnknownLabelsRefused) {
  EXPECT_PRED2(contains, error_message([&] {
                 data_config_from_json(nlohmann::json{{"labels", "spam"}});
               }),
               "data.labels 'spam' is not known; use binary or groups");
}

TEST(TextCorpusSpamAssassinDir, FromEnvironment) {
  {
    ScopedEnv data("LAYERWISE_DATA", "/data/lw");
    EXPECT_EQ(default_spam_assassin_dir(), "/data/lw/spam-assassin");
  }
  ScopedEnv data("LAYERWISE_DATA", nullptr);
  {
    ScopedEnv cache("XDG_CACHE_HOME", "/xdg");
    EXPECT_EQ(default_spam_assassin_dir(), "/xdg/layerwise/spam-assassin");
  }
  ScopedEnv cache("XDG_CACHE_HOME", nullptr);
  ScopedEnv home("HOME", "/home/someone");
  EXPECT_EQ(default_spam_assassin_dir(), "/home/someone/.cache/layerwise/spam-assassin");
}

// --- strip_mail_headers --------------------------------------------------------------------------

TEST(TextCorpusStripHeaders, LineFeeds) {
  EXPECT_EQ(strip_mail_headers("From: a\nReceived: b\n  folded\n\nbody\n\nmore\n"),
            "body\n\nmore\n");
}

TEST(TextCorpusStripHeaders, CarriageReturns) {
  EXPECT_EQ(strip_mail_headers("From: a\r\nReceived: b\r\n\r\nbody\r\nmore"), "body\r\nmore");
}

TEST(TextCorpusStripHeaders, NoBlankLineMeansNoBody) {
  EXPECT_EQ(strip_mail_headers("From: a\nSubject: b\n"), "");
  EXPECT_EQ(strip_mail_headers("From: a\nSubject: b"), "");
  EXPECT_EQ(strip_mail_headers(""), "");
}

TEST(TextCorpusStripHeaders, BlankFirstLineMeansNoHeaders) {
  EXPECT_EQ(strip_mail_headers("\nbody"), "body");
  EXPECT_EQ(strip_mail_headers("\r\nbody"), "body");
  EXPECT_EQ(strip_mail_headers("From: a\n\n"), "");
}

// --- JSON Lines ---------------------------------------------------------------------------------

using TextCorpusJsonl = TextFiles;

TEST_F(TextCorpusJsonl, StringLabelsInSortedOrder) {
  write_text(path("data.jsonl"), R"({"text": "good film", "label": "pos"}
{"text": "bad film", "label": "neg"}
{"label": "pos", "text": "great \"film\"\n", "extra": 1}
{"text": "meh", "label": "neutral"}
)");
  const auto corpus = load_jsonl(path("data.jsonl"));
  EXPECT_EQ(corpus.texts,
            (std::vector<std::string>{"good film", "bad film", "great \"film\"\n", "meh"}));
  EXPECT_EQ(corpus.class_names, (std::vector<std::string>{"neg", "neutral", "pos"}));
  EXPECT_EQ(corpus.labels, (std::vector<int64_t>{2, 0, 2, 1}));
}

TEST_F(TextCorpusJsonl, IntegerLabelsAsGiven) {
  write_text(path("data.jsonl"),
             "{\"text\": \"a\", \"label\": 3}\n{\"text\": \"b\", \"label\": 0}");
  const auto corpus = load_jsonl(path("data.jsonl"));
  EXPECT_EQ(corpus.texts, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(corpus.labels, (std::vector<int64_t>{3, 0}));
  EXPECT_EQ(corpus.class_names, (std::vector<std::string>{"0", "1", "2", "3"}));
}

TEST_F(TextCorpusJsonl, BlankLinesAndCrlfSkipped) {
  write_text(
      path("data.jsonl"),
      "\n{\"text\": \"a\", \"label\": \"x\"}\r\n  \r\n\n{\"text\": \"b\", \"label\": \"y\"}\r\n\n");
  const auto corpus = load_jsonl(path("data.jsonl"));
  EXPECT_EQ(corpus.texts, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(corpus.labels, (std::vector<int64_t>{0, 1}));
}

TEST_F(TextCorpusJsonl, BadJsonNamesFileAndLine) {
  // Line numbers count the blank lines too, so that they match an editor's.
  const auto message =
      jsonl_error("{\"text\": \"a\", \"label\": 0}\n\n{\"text\": \"b\", \"label\": }\n");
  EXPECT_PRED2(contains, message, path("data.jsonl") + ":3: not valid JSON (");
}

TEST_F(TextCorpusJsonl, MissingOrIllTypedText) {
  EXPECT_PRED2(contains, jsonl_error("{\"label\": 0}"),
               path("data.jsonl") + ":1: no \"text\" field");
  EXPECT_PRED2(contains,
               jsonl_error("{\"text\": \"a\", \"label\": 0}\n{\"text\": 5, \"label\": 0}"),
               path("data.jsonl") + ":2: \"text\" must be a string, got integer");
  EXPECT_PRED2(contains, jsonl_error("[\"a\", 0]"),
               path("data.jsonl") + ":1: expected a JSON object, got array");
}

TEST_F(TextCorpusJsonl, MissingOrIllTypedLabel) {
  EXPECT_PRED2(contains, jsonl_error("{\"text\": \"a\"}"), ":1: no \"label\" field");
  EXPECT_PRED2(contains, jsonl_error("{\"text\": \"a\", \"label\": 1.5}"),
               ":1: \"label\" must be a string or an integer, got number");
  EXPECT_PRED2(contains, jsonl_error("{\"text\": \"a\", \"label\": true}"),
               ":1: \"label\" must be a string or an integer, got boolean");
  EXPECT_PRED2(contains, jsonl_error("{\"text\": \"a\", \"label\": null}"), "got null");
  EXPECT_PRED2(contains, jsonl_error("{\"text\": \"a\", \"label\": -1}"),
               ":1: integer \"label\" must be in [0, 1000000], got -1");
  EXPECT_PRED2(contains, jsonl_error("{\"text\": \"a\", \"label\": 99999999999}"),
               "got 99999999999");
}

TEST_F(TextCorpusJsonl, MixedLabelTypesRefused) {
  const auto message =
      jsonl_error("{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"label\": 1}\n");
  EXPECT_PRED2(contains, message, path("data.jsonl") + ":2: \"label\" is integer but line 1's");
}

TEST_F(TextCorpusJsonl, EmptyOrMissingFile) {
  EXPECT_PRED2(contains, jsonl_error("\n  \n"), path("data.jsonl") + ": no records");
  EXPECT_PRED2(contains, error_message([&] { load_jsonl(path("absent.jsonl")); }),
               path("absent.jsonl"));
}

// --- plain text
// -----------------------------------------------------------------------------------

using TextCorpusTextFile = TextFiles;

TEST_F(TextCorpusTextFile, DocumentsSeparatedByBlankLines) {
  write_text(path("book.txt"),
             "\n\nFirst line\nsecond line\n\n\n \t \nSecond doc\r\nstill second\r\n\r\nThird");
  const auto corpus = load_text_file(path("book.txt"));
  EXPECT_EQ(corpus.texts, (std::vector<std::string>{"First line\nsecond line",
                                                    "Second doc\nstill second", "Third"}));
  EXPECT_TRUE(corpus.labels.empty());
  EXPECT_TRUE(corpus.class_names.empty());
}

TEST_F(TextCorpusTextFile, OneDocumentWithoutBlankLines) {
  write_text(path("one.txt"), "a\n  indented\nb\n");
  EXPECT_EQ(load_text_file(path("one.txt")).texts, (std::vector<std::string>{"a\n  indented\nb"}));
}

TEST_F(TextCorpusTextFile, BlankOrMissingFileRefused) {
  write_text(path("blank.txt"), "\n \n\n");
  EXPECT_PRED2(contains, error_message([&] { load_text_file(path("blank.txt")); }),
               path("blank.txt") + ": no text");
  EXPECT_PRED2(contains, error_message([&] { load_text_file(path("absent.txt")); }),
               path("absent.txt"));
}

}  // namespace
}  // namespace layerwise::data
