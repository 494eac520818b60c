#include "common/model/llama_config.h"

#include <array>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace sr2 {
namespace {

using nlohmann::json;

struct Architecture {
  const char* model_type;
  const char* class_name;
};
constexpr std::array<Architecture, 3> kArchitectures = {{
    {"llama", "LlamaForCausalLM"},
    {"mistral", "MistralForCausalLM"},
    {"qwen2", "Qwen2ForCausalLM"},
}};

absl::Status UnsupportedArchitecture(const std::string& name) {
  return absl::UnimplementedError(
      absl::StrCat("unsupported architecture '", name,
                   "': sr2 quantizes Llama-family models (llama, mistral, qwen2)"));
}

// A present, non-null field; absent and null both count as "not given" (HF writes nulls).
const json* Field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::StatusOr<int> PositiveInt(const json& j, const char* name) {
  const json* v = Field(j, name);
  if (v == nullptr)
    return absl::InvalidArgumentError(absl::StrCat("config.json: missing '", name, "'"));
  if (!v->is_number_integer() || v->get<int64_t>() <= 0 ||
      v->get<int64_t>() > std::numeric_limits<int>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json: '", name, "' must be a positive integer, got ", v->dump()));
  }
  return static_cast<int>(v->get<int64_t>());
}

absl::StatusOr<int> OptionalPositiveInt(const json& j, const char* name, int fallback) {
  if (Field(j, name) == nullptr) return fallback;
  return PositiveInt(j, name);
}

absl::StatusOr<double> OptionalPositiveNumber(const json& j, const char* name, double fallback) {
  const json* v = Field(j, name);
  if (v == nullptr) return fallback;
  if (!v->is_number() || v->get<double>() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json: '", name, "' must be a positive number, got ", v->dump()));
  }
  return v->get<double>();
}

absl::StatusOr<bool> OptionalBool(const json& j, const char* name, bool fallback) {
  const json* v = Field(j, name);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json: '", name, "' must be true or false, got ", v->dump()));
  }
  return v->get<bool>();
}

absl::StatusOr<std::string> OptionalString(const json& j, const char* name) {
  const json* v = Field(j, name);
  if (v == nullptr) return std::string();
  if (!v->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json: '", name, "' must be a string, got ", v->dump()));
  }
  return v->get<std::string>();
}

// The model_type, checked against `architectures` when both are given.
absl::StatusOr<std::string> ModelType(const json& j) {
  SR2_ASSIGN_OR_RETURN(std::string model_type, OptionalString(j, "model_type"));
  if (!model_type.empty()) {
    bool known = false;
    for (const Architecture& a : kArchitectures) known = known || model_type == a.model_type;
    if (!known) return UnsupportedArchitecture(model_type);
  }
  if (const json* archs = Field(j, "architectures")) {
    if (!archs->is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config.json: 'architectures' must be a list of strings, got ", archs->dump()));
    }
    for (const json& a : *archs) {
      if (!a.is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "config.json: 'architectures' must be a list of strings, got ", archs->dump()));
      }
      const std::string name = a.get<std::string>();
      const Architecture* match = nullptr;
      for (const Architecture& k : kArchitectures) {
        if (name == k.class_name) match = &k;
      }
      if (match == nullptr) return UnsupportedArchitecture(name);
      if (model_type.empty()) model_type = match->model_type;
    }
  }
  if (model_type.empty()) {
    return absl::InvalidArgumentError("config.json: missing 'model_type' and 'architectures'");
  }
  return model_type;
}

}  // namespace

absl::StatusOr<LlamaConfig> LlamaConfig::FromJson(std::string_view json_text) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("config.json is not valid JSON: ", e.what()));
  }
  if (!j.is_object()) return absl::InvalidArgumentError("config.json: top level must be an object");

  LlamaConfig c;
  SR2_ASSIGN_OR_RETURN(c.model_type, ModelType(j));

  SR2_ASSIGN_OR_RETURN(std::string act, OptionalString(j, "hidden_act"));
  if (!act.empty() && act != "silu") {
    return absl::UnimplementedError(
        absl::StrCat("config.json: hidden_act '", act, "' is not supported (only silu)"));
  }
  if (const json* scaling = Field(j, "rope_scaling")) {
    return absl::UnimplementedError(
        absl::StrCat("config.json: rope_scaling ", scaling->dump(), " is not supported"));
  }

  SR2_ASSIGN_OR_RETURN(c.hidden_size, PositiveInt(j, "hidden_size"));
  SR2_ASSIGN_OR_RETURN(c.intermediate_size, PositiveInt(j, "intermediate_size"));
  SR2_ASSIGN_OR_RETURN(c.num_hidden_layers, PositiveInt(j, "num_hidden_layers"));
  SR2_ASSIGN_OR_RETURN(c.num_attention_heads, PositiveInt(j, "num_attention_heads"));
  SR2_ASSIGN_OR_RETURN(c.vocab_size, PositiveInt(j, "vocab_size"));
  SR2_ASSIGN_OR_RETURN(c.num_key_value_heads,
                       OptionalPositiveInt(j, "num_key_value_heads", c.num_attention_heads));
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json: num_key_value_heads (", c.num_key_value_heads,
                     ") must divide num_attention_heads (", c.num_attention_heads, ")"));
  }
  if (Field(j, "head_dim") == nullptr && c.hidden_size % c.num_attention_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.json: hidden_size (", c.hidden_size, ") is not a multiple of num_attention_heads (",
        c.num_attention_heads, ") and no head_dim is given"));
  }
  SR2_ASSIGN_OR_RETURN(c.head_dim,
                       OptionalPositiveInt(j, "head_dim", c.hidden_size / c.num_attention_heads));
  SR2_ASSIGN_OR_RETURN(c.max_position_embeddings,
                       OptionalPositiveInt(j, "max_position_embeddings", 0));
  SR2_ASSIGN_OR_RETURN(c.rms_norm_eps, OptionalPositiveNumber(j, "rms_norm_eps", c.rms_norm_eps));
  SR2_ASSIGN_OR_RETURN(c.rope_theta, OptionalPositiveNumber(j, "rope_theta", c.rope_theta));
  SR2_ASSIGN_OR_RETURN(c.attention_bias, OptionalBool(j, "attention_bias", false));
  if (c.model_type == "qwen2") c.attention_bias = true;
  SR2_ASSIGN_OR_RETURN(c.mlp_bias, OptionalBool(j, "mlp_bias", false));
  SR2_ASSIGN_OR_RETURN(c.tie_word_embeddings, OptionalBool(j, "tie_word_embeddings", false));
  // Recent transformers versions write "dtype" instead of "torch_dtype".
  SR2_ASSIGN_OR_RETURN(c.torch_dtype, OptionalString(j, "torch_dtype"));
  if (c.torch_dtype.empty()) {
    SR2_ASSIGN_OR_RETURN(c.torch_dtype, OptionalString(j, "dtype"));
  }
  return c;
}

}  // namespace sr2
