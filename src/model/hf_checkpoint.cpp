#include "layerwise/model/hf_checkpoint.h"

#include <map>
#include <set>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"
#include "layerwise/core/safetensors.h"
#include "layerwise/core/staged_folder.h"
#include "layerwise/model/weights.h"

namespace layerwise::model {

using Layout = HfRename::Layout;

namespace {

class TableBuilder {
 public:
  // one tensor of ours from one of theirs
  void one(const std::string& ours, const std::string& theirs, Layout layout = Layout::same) {
    table.push_back({ours, {theirs}, layout});
  }
  // weight and bias of a Linear or LayerNorm
  void affine(const std::string& ours, const std::string& theirs, bool transposed = false) {
    one(ours + ".weight", theirs + ".weight", transposed ? Layout::transposed : Layout::same);
    one(ours + ".bias", theirs + ".bias");
  }
  // our qkv from separate query, key and value projections
  void qkv(const std::string& ours, const std::string& theirs) {
    for (const char* part : {".weight", ".bias"})
      table.push_back({ours + part,
                       {theirs + "query" + part, theirs + "key" + part, theirs + "value" + part},
                       Layout::stacked});
  }
  std::vector<HfRename> table;
};

void vision_table(TableBuilder& t, const ModelConfig& c, const std::string& p) {
  t.affine("patch_embed.proj", p + "embeddings.patch_embeddings.projection");
  t.one("cls_token", p + "embeddings.cls_token");
  if (c.distill_token) t.one("dist_token", p + "embeddings.distillation_token");
  t.one("pos_embed", p + "embeddings.position_embeddings");
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const auto ours = str_cat("blocks.", i, "."), theirs = str_cat(p, "encoder.layer.", i, ".");
    t.affine(ours + "norm1", theirs + "layernorm_before");
    t.qkv(ours + "attn.qkv", theirs + "attention.attention.");
    t.affine(ours + "attn.proj", theirs + "attention.output.dense");
    t.affine(ours + "norm2", theirs + "layernorm_after");
    t.affine(ours + "mlp.fc1", theirs + "intermediate.dense");
    t.affine(ours + "mlp.fc2", theirs + "output.dense");
  }
  t.affine("final_norm", p + "layernorm");
  t.affine("classifier", "classifier");
}

void bert_table(TableBuilder& t, const ModelConfig& c, const std::string& p) {
  t.one("tok_embed.weight", p + "embeddings.word_embeddings.weight");
  t.one("pos_embed", p + "embeddings.position_embeddings.weight", Layout::batched);
  if (c.type_vocab_size > 0)
    t.one("type_embed.weight", p + "embeddings.token_type_embeddings.weight");
  t.affine("embed_norm", p + "embeddings.LayerNorm");
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const auto ours = str_cat("blocks.", i, "."), theirs = str_cat(p, "encoder.layer.", i, ".");
    t.qkv(ours + "attn.qkv", theirs + "attention.self.");
    t.affine(ours + "attn.proj", theirs + "attention.output.dense");
    t.affine(ours + "norm1", theirs + "attention.output.LayerNorm");
    t.affine(ours + "mlp.fc1", theirs + "intermediate.dense");
    t.affine(ours + "mlp.fc2", theirs + "output.dense");
    t.affine(ours + "norm2", theirs + "output.LayerNorm");
  }
  t.affine("pooler", p + "pooler.dense");
  t.affine("classifier", "classifier");
}

void gpt2_table(TableBuilder& t, const ModelConfig& c, const std::string& p) {
  t.one("tok_embed.weight", p + "wte.weight");
  t.one("pos_embed", p + "wpe.weight", Layout::batched);
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const auto ours = str_cat("blocks.", i, "."), theirs = str_cat(p, "h.", i, ".");
    t.affine(ours + "norm1", theirs + "ln_1");
    t.affine(ours + "attn.qkv", theirs + "attn.c_attn", /*transposed=*/true);
    t.affine(ours + "attn.proj", theirs + "attn.c_proj", true);
    t.affine(ours + "norm2", theirs + "ln_2");
    t.affine(ours + "mlp.fc1", theirs + "mlp.c_fc", true);
    t.affine(ours + "mlp.fc2", theirs + "mlp.c_proj", true);
  }
  t.affine("final_norm", p + "ln_f");
  if (!c.tie_embeddings) t.one("classifier.weight", "lm_head.weight");  // bias: zero, below
}

std::string base_prefix(HfFamily family) {
  switch (family) {
    case HfFamily::vit:
      return "vit.";
    case HfFamily::deit:
      return "deit.";
    case HfFamily::bert:
      return "bert.";
    case HfFamily::gpt2:
      return "transformer.";
  }
  return "";
}

// The base model's prefix as the checkpoint spells it: "bert." in BertForSequenceClassification,
// "" in a bare BertModel.
std::string detect_prefix(HfFamily family, const std::map<std::string, torch::Tensor>& tensors) {
  const auto prefix = base_prefix(family);
  for (const auto& item : tensors)
    if (item.first.rfind(prefix, 0) == 0) return prefix;
  return "";
}

// Tensors a checkpoint may hold that no layerwise model uses: heads we do not read and buffers.
bool skippable(const std::string& name) {
  auto ends_with = [&name](const std::string& tail) {
    return name.size() >= tail.size() &&
           name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  return name.rfind("cls.", 0) == 0 ||                               // BERT pre-training heads
         ends_with("attn.bias") || ends_with("attn.masked_bias") ||  // GPT-2 causal-mask buffers
         ends_with("embeddings.position_ids") ||                     // old BERT buffer
         ends_with("embeddings.mask_token") ||                       // ViT masked image modelling
         name == "lm_head.weight" ||                       // GPT-2's copy of the tied head
         name.find("pooler.dense.") != std::string::npos;  // ViT's pooler (unused by its head)
}

bool is_head(const std::string& ours) {
  return ours.rfind("classifier.", 0) == 0 || ours.rfind("pooler.", 0) == 0;
}

torch::Tensor to_ours(const HfRename& r, const std::vector<torch::Tensor>& theirs) {
  switch (r.layout) {
    case Layout::same:
      return theirs[0];
    case Layout::transposed:
      return theirs[0].t().contiguous();
    case Layout::batched:
      return theirs[0].unsqueeze(0);
    case Layout::stacked:
      return torch::cat(theirs, 0);
  }
  return {};
}

std::vector<torch::Tensor> to_theirs(const HfRename& r, const torch::Tensor& ours) {
  switch (r.layout) {
    case Layout::same:
      return {ours};
    case Layout::transposed:
      return {ours.t().contiguous()};
    case Layout::batched:
      return {ours.squeeze(0)};
    case Layout::stacked:
      return ours.chunk(int64_t(r.theirs.size()), 0);
  }
  return {};
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

}  // namespace

std::vector<HfRename> hf_rename_table(HfFamily family, const ModelConfig& config,
                                      const std::string& prefix) {
  TableBuilder t;
  if (family == HfFamily::bert)
    bert_table(t, config, prefix);
  else if (family == HfFamily::gpt2)
    gpt2_table(t, config, prefix);
  else
    vision_table(t, config, prefix);
  return t.table;
}

std::vector<std::pair<std::string, torch::Tensor>> read_hf_tensors(const std::string& dir) {
  const auto single = dir + "/model.safetensors", index = dir + "/model.safetensors.index.json";
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  if (file_exists(single)) {
    tensors = read_safetensors(single).tensors;
  } else {
    LW_CHECK(file_exists(index), dir, ": neither model.safetensors nor ",
             "model.safetensors.index.json (only the safetensors format is read; convert ",
             "pytorch_model.bin with transformers' save_pretrained)");
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(read_file(index));
    } catch (const nlohmann::json::exception& e) {
      throw Error(str_cat(index, ": not valid JSON (", e.what(), ")"));
    }
    LW_CHECK(json.contains("weight_map") && json["weight_map"].is_object(), index,
             ": no weight_map object");
    std::map<std::string, std::set<std::string>> by_shard;  // shard file -> tensor names
    for (const auto& item : json["weight_map"].items()) {
      LW_CHECK(item.value().is_string(), index, ": weight_map['", item.key(), "'] is not a file");
      const auto shard = item.value().get<std::string>();
      LW_CHECK(shard.find('/') == std::string::npos && shard.find("..") == std::string::npos, index,
               ": shard '", shard, "' is not a file name in the folder");
      by_shard[shard].insert(item.key());
    }
    for (const auto& [shard, names] : by_shard) {
      auto file = read_safetensors(dir + "/" + shard);
      std::set<std::string> found;
      for (auto& item : file.tensors)
        if (names.count(item.first)) {
          found.insert(item.first);
          tensors.push_back(std::move(item));
        }
      for (const auto& name : names)
        LW_CHECK(found.count(name), dir, "/", shard, ": no tensor '", name,
                 "' (model.safetensors.index.json puts it there)");
    }
  }
  for (auto& item : tensors)
    if (item.second.is_floating_point()) item.second = item.second.to(torch::kFloat32);
  return tensors;
}

ImportedModel import_hf(const std::string& dir, int64_t n_classes) {
  ImportedModel out;
  out.hf = read_hf_config(dir);
  auto config = out.hf.model;
  const bool gpt2 = out.hf.family == HfFamily::gpt2;
  LW_CHECK(n_classes == 0 || !gpt2, dir,
           ": a GPT-2 language model predicts its vocabulary; it takes no number of classes");
  LW_CHECK(n_classes >= 0 && n_classes != 1, "import: n_classes must be >= 2, got ", n_classes);
  const bool fresh_head = n_classes > 0 || !out.hf.has_classifier;
  if (n_classes > 0) config.n_classes = n_classes;
  out.model = make_model(config);

  const auto file = read_hf_tensors(dir);
  const std::map<std::string, torch::Tensor> theirs(file.begin(), file.end());
  const auto prefix = detect_prefix(out.hf.family, theirs);
  std::map<std::string, torch::Tensor> ours;
  for (auto& [name, weight] : named_weights(*out.model)) ours[name] = weight;

  std::vector<std::pair<std::string, torch::Tensor>> loaded;
  std::set<std::string> used;
  std::vector<std::string> fresh;
  for (const auto& rename : hf_rename_table(out.hf.family, config, prefix)) {
    const auto& target = ours.at(rename.ours);
    std::vector<torch::Tensor> parts;
    for (const auto& name : rename.theirs)
      if (theirs.count(name)) parts.push_back(theirs.at(name));
    const bool complete = parts.size() == rename.theirs.size();
    const bool replaced = fresh_head && rename.ours.rfind("classifier.", 0) == 0;
    if (is_head(rename.ours) && (!complete || replaced)) {
      loaded.emplace_back(rename.ours, target);  // keep the fresh initialization
      fresh.push_back(rename.ours);
      continue;
    }
    for (const auto& name : rename.theirs)
      LW_CHECK(theirs.count(name), dir, ": tensor '", name, "' is missing (", out.hf.architecture,
               " with ", config.n_layers, " layers needs it for ", rename.ours, ")");
    const auto tensor = to_ours(rename, parts);
    LW_CHECK(tensor.sizes() == target.sizes(), dir, ": ", join(rename.theirs), " gives shape ",
             tensor.sizes(), " where config.json implies ", target.sizes());
    loaded.emplace_back(rename.ours, tensor);
    used.insert(rename.theirs.begin(), rename.theirs.end());
  }
  if (gpt2 && !config.tie_embeddings)  // GPT-2's lm_head has no bias
    loaded.emplace_back("classifier.bias", torch::zeros({config.n_classes}));

  std::vector<std::string> skipped;
  for (const auto& [name, tensor] : theirs) {
    if (used.count(name)) continue;
    const bool replaced_head = fresh_head && name.rfind("classifier.", 0) == 0;
    LW_CHECK(skippable(name) || replaced_head, dir, ": tensor '", name,
             "' has no place in a layerwise ", config.arch, " (", out.hf.architecture, ")");
    skipped.push_back(name);
  }
  load_weights(loaded, *out.model, dir);
  out.model->eval();
  if (!fresh.empty())
    out.notes.push_back(
        str_cat("initialized fresh (not in the checkpoint or replaced): ", join(fresh),
                n_classes > 0 ? str_cat(", ", n_classes, " classes") : std::string()));
  if (!skipped.empty())
    out.notes.push_back(
        str_cat("skipped ", skipped.size(), " tensor(s) no layerwise model uses: ", join(skipped)));
  return out;
}

void export_hf(LayeredModel& model, const std::string& dir, const HfExportOptions& options) {
  const auto& config = model.config();
  // refuses what transformers cannot hold
  const auto json = hf_config_json(config, options.class_names, options.bos_id, options.eos_id);
  const auto family = hf_family_for_export(config);
  std::map<std::string, torch::Tensor> ours;
  for (auto& [name, weight] : named_weights(model)) ours[name] = weight.detach().to(torch::kCPU);
  std::vector<std::pair<std::string, torch::Tensor>> theirs;
  std::set<std::string> used;
  for (const auto& rename : hf_rename_table(family, config, base_prefix(family))) {
    const auto it = ours.find(rename.ours);
    LW_CHECK(it != ours.end(), "export: the model has no tensor '", rename.ours, "'");
    const auto parts = to_theirs(rename, it->second.to(torch::kFloat32));
    for (size_t i = 0; i < parts.size(); ++i)
      theirs.emplace_back(rename.theirs[i], parts[i].contiguous());
    used.insert(rename.ours);
  }
  for (const auto& [name, tensor] : ours)
    LW_CHECK(used.count(name), "export: tensor '", name, "' has no place in ", to_string(family),
             "'s layout");

  StagedFolder folder(dir);  // no half-written export
  write_safetensors(folder.path() + "/model.safetensors", theirs, {{"format", "pt"}});
  write_file_atomic(folder.path() + "/config.json", json.dump(2) + "\n");
  if (options.add_files) options.add_files(folder.path());
  folder.commit();
}

}  // namespace layerwise::model
