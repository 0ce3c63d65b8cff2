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
torch::Tensor block_indicator(const std::vector<int64_t>& block_widths,
                              const torch::TensorOptions& options) {
  auto indicator = torch::zeros({static_cast<int64_t>(block_widths.size()), total(block_widths)},
                                options.device(torch::kCPU));
  int64_t start = 0;
  for (size_t l = 0; l < block_widths.size(); ++l) {
    indicator[l].narrow(0, start, block_widths[l]).fill_(1.0);
    start += block_widths[l];
  }
  return indicator.to(options.device());
}

// |X^T X|_F^2 for each layer alone: (L) float64.
torch::Tensor self_cross(const Layers& centered) {
  std::vector<torch::Tensor> values;
  for (const auto& x : centered) {
    const auto product = x.size(0) < x.size(1) ? torch::mm(x, x.t()) : torch::mm(x.t(), x);
    values.push_back(product.mul_(product).sum().to(torch::kFloat64));
  }
  return torch::stack(values);
}

// Within one model X^T X is symmetric: block row i needs only X_i^T [X_i ... X_L], half the work.
torch::Tensor cross_feature_space_symmetric(const Layers& centered) {
  const auto x = torch::cat(centered, 1);  // (N, sum D)
  const auto all_widths = widths(centered);
  const int64_t n_layers = static_cast<int64_t>(centered.size());
  auto cross =
      torch::zeros({n_layers, n_layers}, torch::TensorOptions(torch::kFloat64).device(x.device()));
  int64_t start = 0;
  for (int64_t i = 0; i < n_layers; ++i) {
    const std::vector<int64_t> rest(all_widths.begin() + i, all_widths.end());
    auto product = torch::mm(centered[i].t(), x.narrow(1, start, x.size(1) - start));  // (Di, rest)
    const auto row = block_sums(product.mul_(product), {all_widths[i]}, rest);         // (1, L-i)
    cross[i].narrow(0, i, n_layers - i).copy_(row[0]);
    cross.narrow(0, i, n_layers - i).select(1, i).copy_(row[0]);
    start += all_widths[i];
  }
  return cross;
}

torch::Tensor cross_feature_space(const Layers& ca, const Layers& cb, bool same) {
  if (same) return cross_feature_space_symmetric(ca);
  const auto xa = torch::cat(ca, 1);                                 // (N, sum Da)
  const auto xb = torch::cat(cb, 1);                                 // (N, sum Db)
  auto product = torch::mm(xa.t(), xb);                              // (sum Da, sum Db)
  return block_sums(product.mul_(product), widths(ca), widths(cb));  // (La, Lb)
}

// (L, N*N): each layer's Gram matrix, flattened.
torch::Tensor flat_grams(const Layers& centered) {
  std::vector<torch::Tensor> grams;
  for (const auto& x : centered) grams.push_back(torch::mm(x, x.t()).reshape({-1}));
  return torch::stack(grams);
}

torch::Tensor cross_gram_space(const Layers& ca, const Layers& cb, bool same) {
  const auto ga = flat_grams(ca);                    // (La, N*N)
  const auto gb = same ? ga : flat_grams(cb);        // (Lb, N*N)
  return torch::mm(ga, gb.t()).to(torch::kFloat64);  // (La, Lb)
}

}  // namespace

torch::Tensor block_sums(const torch::Tensor& values, const std::vector<int64_t>& row_widths,
                         const std::vector<int64_t>& col_widths) {
  // Sums within a block run in the values' dtype (a float32 block of 768 x 768 sums to ~1e-7),
  // the result is float64.
  const auto rows = block_indicator(row_widths, values.options());          // (La, sum Da)
  const auto cols = block_indicator(col_widths, values.options());          // (Lb, sum Db)
  return torch::mm(torch::mm(rows, values), cols.t()).to(torch::kFloat64);  // (La, Lb)
}

torch::Tensor squared_row_norms(const Layers& centered) {
  std::vector<torch::Tensor> columns;
  for (const auto& x : centered) columns.push_back((x * x).sum(1));
  return torch::stack(columns, 1).to(torch::kFloat64);  // (N, L)
}

LinearStats linear_stats_from_sums(const torch::Tensor& product, const std::vector<int64_t>& widths,
                                   const torch::Tensor& row_dot, const torch::Tensor& sq_norm,
                                   int64_t n_samples) {
  LinearStats stats;
  stats.n_samples = n_samples;
  stats.cross = block_sums(product * product, widths, widths);  // (L, L)
  stats.self_a = stats.self_b = stats.cross.diagonal().clone();
  stats.row_dot = row_dot;
  stats.self_row_a = stats.self_row_b = row_dot.diagonal().clone();
  stats.sq_norm_a = stats.sq_norm_b = sq_norm;
  return stats;
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
  const auto rows_a = squared_row_norms(ca);                  // (N, La)
  const auto rows_b = same ? rows_a : squared_row_norms(cb);  // (N, Lb)
  stats.row_dot = torch::mm(rows_a.t(), rows_b);              // (La, Lb)
  stats.self_row_a = rows_a.pow(2).sum(0);
  stats.self_row_b = same ? stats.self_row_a : rows_b.pow(2).sum(0);
  stats.sq_norm_a = rows_a.sum(0);
  stats.sq_norm_b = same ? stats.sq_norm_a : rows_b.sum(0);
  return stats;
}

}  // namespace layerwise::analysis
