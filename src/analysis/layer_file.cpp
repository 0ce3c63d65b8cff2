#include "layerwise/analysis/layer_file.h"

#include <algorithm>
#include <cctype>
#include <numeric>
#include <set>
#include <sstream>

#include "layerwise/core/error.h"
#include "layerwise/core/safetensors.h"

namespace layerwise::analysis {

namespace {

// The runs of decimal digits in a name, as numbers.
std::vector<int64_t> integers_in(const std::string& name) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < name.size();) {
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
    out.push_back(std::stoll(name.substr(i, std::min<size_t>(end - i, 18))));
    i = end;
  }
  return out;
}

// Throws unless `value` is a non-negative decimal integer; returns it.
int64_t parse_layer_number(const std::string& value, const std::string& spec) {
  LW_CHECK(!value.empty() && value.size() < 10 &&
               std::all_of(value.begin(), value.end(),
                           [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }),
           "layer selection '", spec, "': '", value, "' is not a layer number (use e.g. 0,2,4-8)");
  return std::stoll(value);
}

}  // namespace

std::vector<size_t> order_layer_names(const std::vector<std::string>& names,
                                      std::vector<int64_t>& numbers, const std::string& path) {
  std::vector<std::vector<int64_t>> ints;
  for (const auto& name : names) {
    ints.push_back(integers_in(name));
    LW_CHECK(!ints.back().empty(), path, ": tensor '", name,
             "' has no layer number in its name; name layers like layer.0, layer.1, ...");
  }
  // The ordering integer: the only one if names hold one, else the one position that varies.
  size_t position = 0;
  if (ints.front().size() > 1 && names.size() > 1) {
    std::vector<size_t> varying;
    for (size_t p = 0; p < ints.front().size(); ++p) {
      bool differs = false;
      for (const auto& v : ints) {
        LW_CHECK(v.size() == ints.front().size(), path, ": tensor names '", names.front(),
                 "' and '", names[&v - &ints.front()],
                 "' hold different counts of integers; cannot order them");
        differs |= v[p] != ints.front()[p];
      }
      if (differs) varying.push_back(p);
    }
    LW_CHECK(varying.size() == 1, path, ": cannot tell the layer number in names like '",
             names.front(), "'; name layers like layer.0, layer.1, ...");
    position = varying.front();
  } else if (ints.front().size() > 1) {
    position = ints.front().size() - 1;
  }
  numbers.clear();
  for (size_t i = 0; i < ints.size(); ++i) {
    LW_CHECK(position < ints[i].size(), path, ": tensor '", names[i], "' has too few integers");
    numbers.push_back(ints[i][position]);
  }
  std::vector<size_t> order(names.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return numbers[x] < numbers[y]; });
  for (size_t i = 1; i < order.size(); ++i)
    LW_CHECK(numbers[order[i]] != numbers[order[i - 1]], path, ": tensors '", names[order[i - 1]],
             "' and '", names[order[i]], "' have the same layer number ", numbers[order[i]]);
  std::vector<int64_t> sorted_numbers;
  for (auto i : order) sorted_numbers.push_back(numbers[i]);
  numbers = sorted_numbers;
  return order;
}

std::vector<int64_t> parse_layer_selection(const std::string& spec) {
  std::vector<int64_t> out;
  std::stringstream stream(spec);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (item.empty()) continue;
    const auto dash = item.find('-');
    if (dash == std::string::npos) {
      out.push_back(parse_layer_number(item, spec));
      continue;
    }
    const int64_t first = parse_layer_number(item.substr(0, dash), spec);
    const int64_t last = parse_layer_number(item.substr(dash + 1), spec);
    LW_CHECK(first <= last, "layer selection '", spec, "': range ", item, " is empty");
    for (int64_t l = first; l <= last; ++l) out.push_back(l);
  }
  return out;
}

LayerFile load_layer_file(const std::string& path, const LoadOptions& options) {
  LW_CHECK(options.max_samples >= 0, "the sample limit must be >= 0, got ", options.max_samples);
  const auto file = read_safetensors(path);
  std::vector<std::string> names;
  std::vector<torch::Tensor> tensors;
  for (const auto& [name, tensor] : file.tensors) {
    if (!tensor.is_floating_point()) continue;  // ids, labels and masks are not layers
    names.push_back(name);
    tensors.push_back(tensor);
  }
  LW_CHECK(!names.empty(), path, ": holds no floating-point tensor to use as a layer");

  LayerFile out;
  const auto order = order_layer_names(names, out.numbers, path);
  const auto selection = parse_layer_selection(options.select);
  std::vector<int64_t> numbers;
  for (size_t k = 0; k < order.size(); ++k) {
    const int64_t number = out.numbers[k];
    if (!selection.empty() &&
        std::find(selection.begin(), selection.end(), number) == selection.end())
      continue;
    const auto& name = names[order[k]];
    auto x = tensors[order[k]];
    LW_CHECK(x.dim() == 2 || x.dim() == 3, path, ": tensor '", name, "' has shape ", x.sizes(),
             "; a layer must be (N, D) or (N, T, D)");
    LW_CHECK(options.max_samples <= x.size(0), path, ": ", options.max_samples,
             " samples asked for but tensor '", name, "' holds ", x.size(0));
    if (options.max_samples > 0) x = x.narrow(0, 0, options.max_samples);
    if (x.scalar_type() != torch::kFloat64) x = x.to(torch::kFloat32);
    out.names.push_back(name);
    numbers.push_back(number);
    out.layers.push_back(pool_tokens(x, options.pool).contiguous().to(options.device));
  }
  for (auto wanted : selection)
    LW_CHECK(std::find(numbers.begin(), numbers.end(), wanted) != numbers.end(), path,
             ": the layer selection asks for layer ", wanted, " but the file has no such layer");
  out.numbers = numbers;
  check_layers(out.layers, path);  // errors read "PATH layer 3 has ..."
  return out;
}

}  // namespace layerwise::analysis
