#include "layerwise/analysis/pooling.h"

#include "layerwise/core/error.h"

namespace layerwise::analysis {

torch::Tensor pool_tokens(const torch::Tensor& x, Pool pool, const torch::Tensor& mask) {
  if (x.dim() == 2) return x;
  LW_CHECK(x.dim() == 3, "expected (N, D) or (N, T, D), got shape ", x.sizes());
  LW_CHECK(x.size(1) > 0, "cannot pool a tensor with no tokens, shape ", x.sizes());
  LW_CHECK(!mask.defined() ||
               (mask.dim() == 2 && mask.size(0) == x.size(0) && mask.size(1) == x.size(1)),
           "token mask of shape ", mask.sizes(), " does not fit hidden states ", x.sizes());
  switch (pool) {
    case Pool::cls:
      return x.select(1, 0);  // (N, D)
    case Pool::mean: {
      if (!mask.defined()) return x.mean(1);                  // (N, D)
      const auto m = mask.unsqueeze(-1).to(x.scalar_type());  // (N, T, 1)
      return (x * m).sum(1) / m.sum(1).clamp_min(1);          // (N, D)
    }
    case Pool::last: {
      if (!mask.defined()) return x.select(1, x.size(1) - 1);  // (N, D)
      const auto last = (mask.sum(1) - 1).clamp_min(0);        // (N)
      return x.gather(1, last.view({-1, 1, 1}).expand({-1, 1, x.size(2)})).squeeze(1);
    }
    case Pool::flatten:
      return x.reshape({x.size(0), x.size(1) * x.size(2)});  // (N, T*D)
    case Pool::tokens:
      return x.reshape({x.size(0) * x.size(1), x.size(2)});  // (N*T, D)
  }
  return x;
}

}  // namespace layerwise::analysis
