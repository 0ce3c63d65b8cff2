#include "layerwise/data/text_corpus.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"

namespace layerwise::data {

namespace {

namespace fs = std::filesystem;

const char* const kFetchHint = "run scripts/setup.sh or scripts/fetch_spam_assassin.sh";

// The corpus's folders in sorted order, with their "binary" and "groups" labels.
struct SpamGroup {
  const char* folder;
  int64_t binary, group;
};
const SpamGroup kSpamGroups[] = {{"easy-ham-1", 0, 0},
                                 {"easy-ham-2", 0, 0},
                                 {"hard-ham-1", 0, 1},
                                 {"spam-1", 1, 2},
                                 {"spam-2", 1, 2}};

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::vector<std::string> sorted_json_files(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error))
    if (it->path().extension() == ".json") files.push_back(it->path().string());
  LW_CHECK(!error, "cannot list '", dir, "': ", error.message());
  std::sort(files.begin(), files.end());
  return files;
}

// The "text" of one message file. The fetch script skips a folder that holds all its files, so a
// damaged file is fixed by deleting the folder first.
std::string read_message(const std::string& file, const std::string& dir) {
  const std::string fix = str_cat("to fetch the corpus again, delete '", dir,
                                  "' and run scripts/fetch_spam_assassin.sh");
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::exception& e) {  // parse errors, numbers out of range
    throw Error(str_cat(file, ": not valid JSON (", e.what(), "); ", fix));
  }
  LW_CHECK(json.is_object() && json.contains("text") && json["text"].is_string(), file,
           ": expected a JSON object with a string \"text\"; ", fix);
  return std::move(json["text"].get_ref<std::string&>());
}

// A line without its line end, "\r" included.
std::string_view chomp(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r\f\v") == std::string_view::npos;
}

// Calls body(line, line_number) for each line of `text`, without its line end.
template <typename Body>
void for_each_line(const std::string& text, Body&& body) {
  int64_t number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    body(chomp(std::string_view(text).substr(start, end - start)), ++number);
    start = end + 1;
  }
}

const char* json_type(const nlohmann::json& value) {
  return value.is_number_integer() ? "integer" : value.type_name();
}

// The largest integer label accepted: class_names holds one name per id up to it.
constexpr uint64_t kMaxLabel = 1000000;

// One JSON Lines record; the label as read, string or integer.
struct JsonlRecord {
  std::string text;
  nlohmann::json label;
  int64_t line;
};

JsonlRecord parse_jsonl_line(const std::string& path, std::string_view line, int64_t number) {
  const std::string where = str_cat(path, ":", number, ": ");
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {  // parse errors, numbers out of range
    throw Error(str_cat(where, "not valid JSON (", e.what(), ")"));
  }
  LW_CHECK(json.is_object(), where, "expected a JSON object, got ", json_type(json));
  LW_CHECK(json.contains("text"), where, "no \"text\" field");
  LW_CHECK(json["text"].is_string(), where, "\"text\" must be a string, got ",
           json_type(json["text"]));
  LW_CHECK(json.contains("label"), where, "no \"label\" field");
  const auto& label = json["label"];
  LW_CHECK(label.is_string() || label.is_number_integer(), where,
           "\"label\" must be a string or an integer, got ", json_type(label));
  LW_CHECK(!label.is_number_integer() ||
               (label.is_number_unsigned() && label.get<uint64_t>() <= kMaxLabel),
           where, "integer \"label\" must be in [0, ", kMaxLabel, "], got ", label.dump());
  return {std::move(json["text"].get_ref<std::string&>()), label, number};
}

// String labels: ids in sorted order of the names.
void assign_string_labels(const std::vector<JsonlRecord>& records, TextCorpus& corpus) {
  std::map<std::string, int64_t> ids;
  for (const auto& r : records) ids.emplace(r.label.get<std::string>(), 0);
  for (auto& [name, id] : ids) {
    id = static_cast<int64_t>(corpus.class_names.size());
    corpus.class_names.push_back(name);
  }
  for (const auto& r : records) corpus.labels.push_back(ids.at(r.label.get<std::string>()));
}

void assign_integer_labels(const std::vector<JsonlRecord>& records, TextCorpus& corpus) {
  int64_t n_classes = 0;
  for (const auto& r : records) {
    corpus.labels.push_back(r.label.get<int64_t>());
    n_classes = std::max(n_classes, corpus.labels.back() + 1);
  }
  for (int64_t id = 0; id < n_classes; ++id) corpus.class_names.push_back(std::to_string(id));
}

void check_corpus(const TextCorpus& c) {
  LW_CHECK(c.labels.empty() || c.labels.size() == c.texts.size(), "corpus has ", c.texts.size(),
           " texts but ", c.labels.size(), " labels");
  for (const int64_t label : c.labels)
    LW_CHECK(label >= 0 && (c.class_names.empty() || label < int64_t(c.class_names.size())),
             "corpus label ", label, " is out of range for ", c.class_names.size(), " classes");
}

}  // namespace

std::string default_spam_assassin_dir() {
  const std::string data = env_or_empty("LAYERWISE_DATA");
  if (!data.empty()) return data + "/spam-assassin";
  std::string cache = env_or_empty("XDG_CACHE_HOME");
  if (cache.empty()) {
    const std::string home = env_or_empty("HOME");
    LW_CHECK(!home.empty(), "neither LAYERWISE_DATA, XDG_CACHE_HOME nor HOME is set: cannot ",
             "find the SpamAssassin corpus");
    cache = home + "/.cache";
  }
  return cache + "/layerwise/spam-assassin";
}

TextCorpus load_spam_assassin(const std::string& dir, LabelScheme labels, bool strip_headers) {
  LW_CHECK(directory_exists(dir), "SpamAssassin corpus folder '", dir, "' not found: ", kFetchHint);
  TextCorpus corpus;
  corpus.class_names = labels == LabelScheme::binary
                           ? std::vector<std::string>{"ham", "spam"}
                           : std::vector<std::string>{"easy_ham", "hard_ham", "spam"};
  for (const auto& group : kSpamGroups) {
    const std::string folder = dir + "/" + group.folder;
    LW_CHECK(directory_exists(folder), "SpamAssassin group folder '", folder,
             "' not found: ", kFetchHint);
    const auto files = sorted_json_files(folder);
    LW_CHECK(!files.empty(), "SpamAssassin group folder '", folder,
             "' holds no .json files: ", kFetchHint);
    for (const auto& file : files) {
      std::string text = read_message(file, dir);
      corpus.texts.push_back(strip_headers ? strip_mail_headers(text) : std::move(text));
      corpus.labels.push_back(labels == LabelScheme::binary ? group.binary : group.group);
    }
  }
  return corpus;
}

std::string strip_mail_headers(const std::string& message) {
  for (size_t start = 0; start < message.size();) {
    const size_t end = message.find('\n', start);
    if (end == std::string::npos) break;
    const size_t length = end - start;
    if (length == 0 || (length == 1 && message[start] == '\r')) return message.substr(end + 1);
    start = end + 1;
  }
  return "";
}

TextCorpus load_jsonl(const std::string& path) {
  std::vector<JsonlRecord> records;
  for_each_line(read_file(path), [&](std::string_view line, int64_t number) {
    if (!is_blank(line)) records.push_back(parse_jsonl_line(path, line, number));
  });
  LW_CHECK(!records.empty(), path, ": no records (expected one JSON object per line)");
  for (const auto& r : records)
    LW_CHECK(r.label.is_string() == records[0].label.is_string(), path, ":", r.line,
             ": \"label\" is ", json_type(r.label), " but line ", records[0].line, "'s is ",
             json_type(records[0].label), "; use all strings or all integers");
  TextCorpus corpus;
  if (records[0].label.is_string()) {
    assign_string_labels(records, corpus);
  } else {
    assign_integer_labels(records, corpus);
  }
  for (auto& r : records) corpus.texts.push_back(std::move(r.text));
  return corpus;
}

TextCorpus load_text_file(const std::string& path) {
  TextCorpus corpus;
  std::string document;
  const auto finish_document = [&] {
    if (!document.empty()) corpus.texts.push_back(std::move(document));
    document.clear();
  };
  for_each_line(read_file(path), [&](std::string_view line, int64_t) {
    if (is_blank(line)) return finish_document();
    if (!document.empty()) document += '\n';
    document += line;
  });
  finish_document();
  LW_CHECK(!corpus.texts.empty(), path, ": no text (the file is empty or blank)");
  return corpus;
}

SplitIndex split_indices(const TextCorpus& corpus, double val_fraction, double test_fraction,
                         uint64_t seed) {
  check_corpus(corpus);
  return stratified_split(corpus.labels, int64_t(corpus.texts.size()), val_fraction, test_fraction,
                          seed);
}

TextCorpus subset(const TextCorpus& corpus, const std::vector<int64_t>& index) {
  check_corpus(corpus);
  TextCorpus part;
  part.class_names = corpus.class_names;
  for (const int64_t i : index) {
    LW_CHECK(i >= 0 && i < int64_t(corpus.texts.size()), "document index ", i,
             " is out of range for a corpus of ", corpus.texts.size());
    part.texts.push_back(corpus.texts[i]);
    if (!corpus.labels.empty()) part.labels.push_back(corpus.labels[i]);
  }
  return part;
}

TextSplits split_corpus(const TextCorpus& corpus, double val_fraction, double test_fraction,
                        uint64_t seed) {
  const auto split = split_indices(corpus, val_fraction, test_fraction, seed);
  return {subset(corpus, split.train), subset(corpus, split.val), subset(corpus, split.test)};
}

}  // namespace layerwise::data
