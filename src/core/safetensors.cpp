#include "layerwise/core/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <system_error>

#include <nlohmann/json.hpp>

#include "layerwise/core/atomic_file.h"
#include "layerwise/core/error.h"

// The format stores little-endian bytes; the tensors are copied to and from memory as they are.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors reading and writing assume a little-endian machine");

namespace layerwise {
namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kMetadataKey = "__metadata__";
constexpr const char* kSupportedDtypes = "F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL";

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
  std::uint64_t size;  // bytes per element
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", torch::kFloat64, 8},   {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
    {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8},   {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},     {"I8", torch::kInt8, 1},     {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
};

const DtypeInfo* find_dtype(const std::string& name) {
  for (const DtypeInfo& info : kDtypes)
    if (name == info.name) return &info;
  return nullptr;
}

const DtypeInfo* find_dtype(torch::ScalarType type) {
  for (const DtypeInfo& info : kDtypes)
    if (type == info.type) return &info;
  return nullptr;
}

/// One header entry, checked against itself (not yet against the other entries).
struct Entry {
  std::string name;
  const DtypeInfo* dtype = nullptr;
  std::vector<int64_t> shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

std::uint64_t read_u64_le(const unsigned char* bytes) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

Entry parse_entry(const std::string& where, const std::string& name, const Json& value) {
  const std::string at = str_cat(where, ": tensor '", name, "'");
  LW_CHECK(value.is_object(), at, ": expected an object {dtype, shape, data_offsets}, got ",
           value.dump());
  for (const char* key : {"dtype", "shape", "data_offsets"})
    LW_CHECK(value.contains(key), at, ": missing \"", key, "\"");

  Entry entry;
  entry.name = name;
  const Json& dtype = value.at("dtype");
  LW_CHECK(dtype.is_string(), at, ": \"dtype\" must be a string, got ", dtype.dump());
  entry.dtype = find_dtype(dtype.get<std::string>());
  LW_CHECK(entry.dtype != nullptr, at, ": unknown dtype ", dtype.dump(),
           " (supported: ", kSupportedDtypes, ")");

  const Json& shape = value.at("shape");
  LW_CHECK(shape.is_array(), at, ": \"shape\" must be an array, got ", shape.dump());
  // Element count in int64 with overflow checks, as torch needs it to fit there.
  int64_t numel = 1;
  bool overflow = false;
  for (const Json& dim : shape) {
    LW_CHECK(dim.is_number_unsigned(), at, ": shape ", shape.dump(),
             " must hold non-negative integers, got ", dim.dump());
    const std::uint64_t size = dim.get<std::uint64_t>();
    LW_CHECK(size <= static_cast<std::uint64_t>(std::numeric_limits<int64_t>::max()), at,
             ": shape entry ", size, " is too large");
    entry.shape.push_back(static_cast<int64_t>(size));
    overflow = overflow || __builtin_mul_overflow(numel, static_cast<int64_t>(size), &numel);
  }
  std::uint64_t n_bytes = 0;
  overflow = overflow ||
             __builtin_mul_overflow(static_cast<std::uint64_t>(numel), entry.dtype->size, &n_bytes);
  LW_CHECK(!overflow, at, ": shape ", shape.dump(), " has too many elements");

  const Json& offsets = value.at("data_offsets");
  LW_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
               offsets[1].is_number_unsigned(),
           at, ": \"data_offsets\" must be [begin, end] with non-negative integers, got ",
           offsets.dump());
  entry.begin = offsets[0].get<std::uint64_t>();
  entry.end = offsets[1].get<std::uint64_t>();
  LW_CHECK(entry.begin <= entry.end, at, ": data_offsets ", offsets.dump(), " have begin > end");
  LW_CHECK(entry.end - entry.begin == n_bytes, at, ": shape ", shape.dump(), " of ",
           entry.dtype->name, " needs ", n_bytes, " bytes but data_offsets ", offsets.dump(),
           " span ", entry.end - entry.begin);
  return entry;
}

}  // namespace

const torch::Tensor& SafetensorsFile::at(const std::string& name) const {
  for (const auto& [tensor_name, tensor] : tensors)
    if (tensor_name == name) return tensor;
  std::string available;
  for (const auto& named : tensors)
    available += str_cat(available.empty() ? "" : ", ", named.first);
  throw Error(str_cat("no tensor '", name, "' in safetensors file (available: ",
                      available.empty() ? "none" : available, ")"));
}

SafetensorsFile read_safetensors(const std::string& path) {
  const std::string where = str_cat("safetensors file '", path, "'");
  std::error_code error;
  const std::uint64_t file_size = std::filesystem::file_size(path, error);
  LW_CHECK(!error, where, ": cannot read: ", error.message());
  LW_CHECK(file_size >= 8, where, ": ", file_size,
           " bytes is too short for the 8-byte header length");

  std::ifstream in(path, std::ios::binary);
  LW_CHECK(in, where, ": cannot open: ", std::strerror(errno));
  unsigned char length_bytes[8];
  in.read(reinterpret_cast<char*>(length_bytes), 8);
  LW_CHECK(in, where, ": cannot read the header length");
  const std::uint64_t header_size = read_u64_le(length_bytes);
  // Checked before allocating anything: a corrupt length must not become a huge allocation.
  LW_CHECK(header_size <= file_size - 8, where, ": header length ", header_size,
           " is larger than the rest of the file (", file_size - 8, " bytes)");
  const std::uint64_t data_size = file_size - 8 - header_size;

  std::string header_text(header_size, '\0');
  in.read(header_text.data(), static_cast<std::streamsize>(header_size));
  LW_CHECK(in, where, ": file ended inside the header");

  // nlohmann's parser stops at a NUL byte as if the input ended there; raw NULs are never valid
  // JSON.
  LW_CHECK(header_text.find('\0') == std::string::npos, where,
           ": header is not valid JSON: it contains a NUL byte at offset ", header_text.find('\0'));

  Json header;
  std::set<std::string> seen;
  std::string duplicate;
  try {
    // The callback sees every top-level key: JSON parsers keep only one of duplicated keys.
    header = Json::parse(header_text, [&](int depth, Json::parse_event_t event, Json& parsed) {
      if (event == Json::parse_event_t::key && depth == 1 && parsed.is_string() &&
          !seen.insert(parsed.get<std::string>()).second && duplicate.empty())
        duplicate = parsed.get<std::string>();
      return true;
    });
  } catch (const Json::exception& e) {
    throw Error(str_cat(where, ": header is not valid JSON: ", e.what()));
  }
  LW_CHECK(header.is_object(), where, ": header must be a JSON object, got a ", header.type_name());
  LW_CHECK(duplicate.empty(), where, ": header names '", duplicate, "' twice");

  SafetensorsFile result;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      LW_CHECK(value.is_object(), where, ": \"__metadata__\" must be an object, got ",
               value.dump());
      for (const auto& [meta_key, meta_value] : value.items()) {
        LW_CHECK(meta_value.is_string(), where, ": metadata \"", meta_key,
                 "\" must be a string, got ", meta_value.dump());
        result.metadata[meta_key] = meta_value.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(where, key, value));
  }

  // The spec requires the ranges to tile the data buffer exactly: no overlap, no gap, no tail.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t covered = 0;
  std::string previous;
  for (const Entry& entry : entries) {
    const std::string at = str_cat(where, ": tensor '", entry.name, "'");
    LW_CHECK(entry.end <= data_size, at, ": data_offsets [", entry.begin, ", ", entry.end,
             "] run past the end of the data buffer (", data_size,
             " bytes; is the file truncated?)");
    LW_CHECK(entry.begin >= covered, at, ": data_offsets [", entry.begin, ", ", entry.end,
             "] overlap tensor '", previous, "' (which ends at ", covered, ")");
    LW_CHECK(entry.begin == covered, at, ": data_offsets [", entry.begin, ", ", entry.end,
             "] leave a gap of ", entry.begin - covered, " unused bytes at offset ", covered,
             " (the tensors must cover the data buffer exactly)");
    covered = entry.end;
    previous = entry.name;
  }
  LW_CHECK(covered == data_size, where, ": ", data_size - covered,
           " bytes at the end of the data buffer belong to no tensor (the tensors cover ", covered,
           " of ", data_size, " bytes)");

  for (const Entry& entry : entries) {
    torch::Tensor tensor = torch::empty(entry.shape, torch::TensorOptions(entry.dtype->type));
    const std::uint64_t n_bytes = entry.end - entry.begin;
    if (n_bytes > 0) {
      in.read(static_cast<char*>(tensor.data_ptr()), static_cast<std::streamsize>(n_bytes));
      LW_CHECK(in, where, ": tensor '", entry.name, "': file ended inside its data");
    }
    if (entry.dtype->type == torch::kBool) {
      const auto* bytes = static_cast<const unsigned char*>(tensor.data_ptr());
      for (std::uint64_t i = 0; i < n_bytes; ++i)
        LW_CHECK(bytes[i] <= 1, where, ": tensor '", entry.name, "': BOOL byte ", i, " is ",
                 static_cast<int>(bytes[i]), ", expected 0 or 1");
    }
    result.tensors.emplace_back(entry.name, std::move(tensor));
  }
  return result;
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string where = str_cat("writing safetensors file '", path, "'");
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header[kMetadataKey] = std::move(meta);
  }

  std::set<std::string> names;
  std::vector<torch::Tensor> contiguous;
  contiguous.reserve(tensors.size());
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    LW_CHECK(!name.empty(), where, ": a tensor has an empty name");
    LW_CHECK(name != kMetadataKey, where, ": \"__metadata__\" is reserved, not a tensor name");
    LW_CHECK(names.insert(name).second, where, ": tensor name '", name, "' appears twice");
    LW_CHECK(tensor.defined(), where, ": tensor '", name, "' is undefined");
    const DtypeInfo* dtype = find_dtype(tensor.scalar_type());
    LW_CHECK(dtype != nullptr, where, ": tensor '", name, "' has unsupported dtype ",
             tensor.scalar_type(), " (supported: ", kSupportedDtypes, ")");
    torch::Tensor cpu = tensor.to(torch::kCPU).contiguous();
    const std::uint64_t n_bytes = static_cast<std::uint64_t>(cpu.numel()) * dtype->size;
    header[name] = Json{{"dtype", dtype->name},
                        {"shape", cpu.sizes().vec()},
                        {"data_offsets", {offset, offset + n_bytes}}};
    offset += n_bytes;
    contiguous.push_back(std::move(cpu));
  }

  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const Json::exception& e) {
    throw Error(str_cat(
        where, ": cannot encode the header (names and metadata must be UTF-8): ", e.what()));
  }
  // Pad with spaces so that the data buffer starts 8-byte aligned.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  std::string contents;
  contents.reserve(8 + header_text.size() + offset);
  std::uint64_t header_size = header_text.size();
  for (int i = 0; i < 8; ++i)
    contents.push_back(static_cast<char>((header_size >> (8 * i)) & 0xff));
  contents += header_text;
  for (const torch::Tensor& tensor : contiguous) {
    const std::uint64_t n_bytes =
        static_cast<std::uint64_t>(tensor.numel()) * tensor.element_size();
    if (n_bytes > 0) contents.append(static_cast<const char*>(tensor.data_ptr()), n_bytes);
  }
  write_file_atomic(path, contents);
}

}  // namespace layerwise
