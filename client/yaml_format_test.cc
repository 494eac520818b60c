#include "client/yaml_format.h"

#include "gtest/gtest.h"

namespace sr2 {
namespace {

using json = nlohmann::ordered_json;

std::string ValueYaml(const json& v) { return ToYaml(json{{"k", v}}); }

TEST(YamlFormatTest, SafeStringsArePlain) {
  EXPECT_EQ(ValueYaml("job-7f00a1b2"), "k: job-7f00a1b2\n");
  EXPECT_EQ(ValueYaml("/models/stories260K"), "k: /models/stories260K\n");
  EXPECT_EQ(ValueYaml("model.layers.0.self_attn.q_proj"), "k: model.layers.0.self_attn.q_proj\n");
}

TEST(YamlFormatTest, AmbiguousStringsAreQuoted) {
  // Each of these would read back as something else (or not parse) if plain.
  for (const char* s : {"", "yes", "No", "on", "OFF", "true", "null", "y", "123", "1e3", "0x1F",
                        ".inf", "~", "2024-05-01T12:00:00Z", "12:30", "a: b", "a #b", "- x",
                        "[x]", "{x}", "&a", "*a", "!t", "|", ">", "%x", "@x", "`x", "'x'",
                        " lead", "trail ", "s3://bucket/key", "W4G128 sym", "x,y", "?x"}) {
    std::string quoted = json(std::string(s)).dump();
    EXPECT_EQ(ValueYaml(s), "k: " + quoted + "\n") << s;
  }
}

TEST(YamlFormatTest, EscapesAreDoubleQuotedJsonEscapes) {
  EXPECT_EQ(ValueYaml("line 1\nline \"2\"\t\\"), "k: \"line 1\\nline \\\"2\\\"\\t\\\\\"\n");
  EXPECT_EQ(ValueYaml(std::string("nul\x01", 4)), "k: \"nul\\u0001\"\n");
  EXPECT_EQ(ValueYaml("caf\xc3\xa9 ok"), "k: \"caf\xc3\xa9 ok\"\n");
}

TEST(YamlFormatTest, NumbersBoolsAndNull) {
  EXPECT_EQ(ValueYaml(42), "k: 42\n");
  EXPECT_EQ(ValueYaml(-3), "k: -3\n");
  EXPECT_EQ(ValueYaml(1.0), "k: 1.0\n");
  EXPECT_EQ(ValueYaml(0.25), "k: 0.25\n");
  EXPECT_EQ(ValueYaml(1e-05), "k: 1.0e-05\n");
  EXPECT_EQ(ValueYaml(1.5e+20), "k: 1.5e+20\n");
  EXPECT_EQ(ValueYaml(true), "k: true\n");
  EXPECT_EQ(ValueYaml(nullptr), "k: null\n");
  EXPECT_EQ(ValueYaml(std::numeric_limits<double>::quiet_NaN()), "k: null\n");
}

TEST(YamlFormatTest, NestedCollectionsInKubectlLayout) {
  json v = {{"id", "j"},
            {"stages", json::array({json{{"stage", "quantize"}, {"done", 1}},
                                    json{{"stage", "evaluate"}, {"done", 0}}})},
            {"spec", {{"candidates", json::array({"W2G32", "W4G32"})}, {"avg_bits", 3.5}}},
            {"empty_list", json::array()},
            {"empty_map", json::object()},
            {"matrix", json::array({json::array({1, 2}), json::array()})}};
  EXPECT_EQ(ToYaml(v),
            "id: j\n"
            "stages:\n"
            "- stage: quantize\n"
            "  done: 1\n"
            "- stage: evaluate\n"
            "  done: 0\n"
            "spec:\n"
            "  candidates:\n"
            "  - W2G32\n"
            "  - W4G32\n"
            "  avg_bits: 3.5\n"
            "empty_list: []\n"
            "empty_map: {}\n"
            "matrix:\n"
            "- - 1\n"
            "  - 2\n"
            "- []\n");
}

TEST(YamlFormatTest, TopLevelValues) {
  EXPECT_EQ(ToYaml(json::array()), "[]\n");
  EXPECT_EQ(ToYaml(json::object()), "{}\n");
  EXPECT_EQ(ToYaml(json::array({"a", "yes"})), "- a\n- \"yes\"\n");
  EXPECT_EQ(ToYaml(json("x y")), "\"x y\"\n");
}

TEST(YamlFormatTest, SequenceItemsConcatenateIntoOneSequence) {
  EXPECT_EQ(ToYamlSequenceItem(json{{"seq", 1}, {"message", "a: b"}}) +
                ToYamlSequenceItem(json{{"seq", 2}, {"message", "c"}}),
            "- seq: 1\n  message: \"a: b\"\n- seq: 2\n  message: c\n");
}

}  // namespace
}  // namespace sr2
