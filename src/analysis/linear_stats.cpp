#include "layerwise/analysis/linear_stats.h"

#include "layerwise/core/error.h"

namespace layerwise::analysis {

namespace {

std::vector<int64_t> widths(const Layers& layers) {
  std::vector<int64_t> out;
  for (const auto& x : layers) out.push_back(x.size(1));
  return out;
}

int64_t total(const std::vector<int64_t>& values) {
  int64_t sum = 0;
  for (auto v : values) sum += v;
  return sum;
}

// (L, sum D) indicator: row l has ones over the columns of block l.
torch::Tensor block_indicator(const std::vector<int64_t>& block_widths, const torch::Device& device) {
  auto indicator = torch::zeros({static_cast<int64_t>(block_widths.size()), total(block_widths)},
                                torch::TensorOptions(torch::kFloat64));
  int64_t start = 0;
  for (size_t l = 0; l < block_widths.size(); ++l) {
    indicator[l].narrow(0, start, block_widths[l]).fill_(1.0);
    start += block_widths[l];
  }
  return indicator.to(device);
}

// (N, L) float64: squared row norms of each centered layer.
torch::Tensor row_norms(const Layers& centered) {
  std::vector<torch::Tensor> columns;
  for (const auto& x : centered) columns.push_back(x.pow(2).sum(1, false, torch::kFloat64));
  return torch::stack(columns, 1);
}

// |X^T X|_F^2 for each layer alone: (L) float64.
torch::Tensor self_cross(const Layers& centered) {
  std::vector<torch::Tensor> values;
  for (const auto& x : centered) {
    const auto product = x.size(0) < x.size(1) ? torch::mm(x, x.t()) : torch::mm(x.t(), x);
    values.push_back(product.pow(2).sum(torch::kFloat64));
  }
  return torch::stack(values);
}

torch::Tensor cross_feature_space(const Layers& ca, const Layers& cb, bool same) {
  const auto xa = torch::cat(ca, 1);                           // (N, sum Da)
  const auto xb = same ? xa : torch::cat(cb, 1);               // (N, sum Db)
  const auto product = torch::mm(xa.t(), xb);                  // (sum Da, sum Db)
  return block_sums(product.pow(2).to(torch::kFloat64), widths(ca), widths(cb));  // (La, Lb)
}

// (L, N*N): each layer's Gram matrix, flattened.
torch::Tensor flat_grams(const Layers& centered) {
  std::vector<torch::Tensor> grams;
  for (const auto& x : centered) grams.push_back(torch::mm(x, x.t()).reshape({-1}));
  return torch::stack(grams);
}

torch::Tensor cross_gram_space(const Layers& ca, const Layers& cb, bool same) {
  const auto ga = flat_grams(ca);                // (La, N*N)
  const auto gb = same ? ga : flat_grams(cb);    // (Lb, N*N)
  return torch::mm(ga, gb.t()).to(torch::kFloat64);  // (La, Lb)
}

}  // namespace

torch::Tensor block_sums(const torch::Tensor& values, const std::vector<int64_t>& row_widths,
                         const std::vector<int64_t>& col_widths) {
  const auto rows = block_indicator(row_widths, values.device());  // (La, sum Da)
  const auto cols = block_indicator(col_widths, values.device());  // (Lb, sum Db)
  return torch::mm(torch::mm(rows, values.to(torch::kFloat64)), cols.t());  // (La, Lb)
}

Layers center_layers(const Layers& layers) {
  Layers centered;
  centered.reserve(layers.size());
  for (const auto& x : layers) centered.push_back(center_columns(x));
  return centered;
}

LinearStats linear_stats(const Layers& a, const Layers& b, StatsRoute route) {
  check_layer_pair(a, b);
  const bool same = same_layers(a, b);
  const Layers ca = center_layers(a);
  const Layers cb = same ? ca : center_layers(b);

  const double n = static_cast<double>(a.front().size(0));
  const double sum_da = static_cast<double>(total(widths(ca)));
  const double sum_db = static_cast<double>(total(widths(cb)));
  const double feature_cost = n * sum_da * sum_db;
  const double gram_cost = n * n * (sum_da + sum_db + static_cast<double>(ca.size() * cb.size()));
  if (route == StatsRoute::kAuto)
    route = feature_cost <= gram_cost ? StatsRoute::kFeature : StatsRoute::kGram;

  LinearStats stats;
  stats.n_samples = a.front().size(0);
  stats.cross = route == StatsRoute::kFeature ? cross_feature_space(ca, cb, same)
                                              : cross_gram_space(ca, cb, same);
  stats.self_a = same ? stats.cross.diagonal().clone() : self_cross(ca);
  stats.self_b = same ? stats.self_a : self_cross(cb);
  const auto rows_a = row_norms(ca);                    // (N, La)
  const auto rows_b = same ? rows_a : row_norms(cb);    // (N, Lb)
  stats.row_dot = torch::mm(rows_a.t(), rows_b);        // (La, Lb)
  stats.self_row_a = rows_a.pow(2).sum(0);
  stats.self_row_b = same ? stats.self_row_a : rows_b.pow(2).sum(0);
  stats.sq_norm_a = rows_a.sum(0);
  stats.sq_norm_b = same ? stats.sq_norm_a : rows_b.sum(0);
  return stats;
}

}  // namespace layerwise::analysis
