#include "worker/quant/weight_quantizer.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <torch/torch.h>

#include "common/data/token_file.h"
#include "common/model/model_layout.h"
#include "common/store/local_object_store.h"
#include "gtest/gtest.h"
#include "worker/model/llama_model.h"

namespace sr2::worker {
namespace {

constexpr char kModelDir[] = "../shared/models/stories260K";
constexpr char kEvalTokens[] = "../shared/data/tinystories/eval.tokens.i32";
constexpr float kThresh = 1e-5f;

float Fp16(float v) { return static_cast<float>(c10::Half(v)); }

std::vector<float> Values(const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

Scheme MakeScheme(int bits, int group_size, bool sym) {
  Scheme s;
  s.bits = bits;
  s.group_size = group_size;
  s.sym = sym;
  return s;
}

QuantizerOptions Fp32Scales() {
  QuantizerOptions o;
  o.fp16_scales = false;
  return o;
}

TEST(WeightQuantizerTest, RtnAsymMatchesHandComputation) {
  // min -1.5, max 6: s = 7.5 / 15 = 0.5, z = 3. 0.25, 1.25 and 2.25 sit on .5 ties (x/s = 0.5,
  // 2.5, 4.5) and round to even; so do -0.25 and -0.75 (-0.5 -> 0, -1.5 -> -2).
  std::vector<float> w(32, 0.0f);
  const std::vector<float> head = {-1.5f, 6.0f, 0.25f, 0.75f, -0.25f, -0.75f, 1.25f, 2.25f, 0.3f};
  std::copy(head.begin(), head.end(), w.begin());
  torch::Tensor wt = torch::tensor(w).reshape({1, 32});
  const Scheme scheme = MakeScheme(4, 32, /*sym=*/false);

  std::vector<float> expected(32, 0.0f);
  const std::vector<float> expected_head = {-1.5f, 6.0f, 0.0f, 1.0f, 0.0f, -1.0f, 1.0f, 2.0f, 0.5f};
  std::copy(expected_head.begin(), expected_head.end(), expected.begin());
  EXPECT_EQ(Values(QuantDequant(wt, scheme, {})), expected);
  EXPECT_EQ(Values(QuantDequant(wt, scheme, {}, Fp32Scales())), expected);

  QuantizedLayer layer = QuantizeToIntegers("l", wt, scheme, {});
  EXPECT_EQ(layer.group_size, 32);
  EXPECT_EQ(layer.scales, std::vector<float>{0.5f});
  EXPECT_EQ(layer.zeros, std::vector<uint8_t>{3});
  const std::vector<uint8_t> expected_codes_head = {0, 15, 3, 5, 3, 1, 5, 7, 4};
  EXPECT_EQ(std::vector<uint8_t>(layer.codes.begin(), layer.codes.begin() + 9),
            expected_codes_head);
  EXPECT_EQ(layer.codes[20], 3);
}

TEST(WeightQuantizerTest, RtnSymUsesFullRangeAndSignedScale) {
  // Positive side wins: s = -6 / 8 = -0.75, so 6 -> -8 (the full negative end).
  std::vector<float> w = {6.0f, -1.5f, 0.375f, 1.125f, 0.0f, -3.0f, 3.0f, 5.0f};
  torch::Tensor wt = torch::tensor(w).reshape({1, 8});
  QuantizedLayer layer = QuantizeToIntegers("l", wt, MakeScheme(4, 8, /*sym=*/true), {});
  EXPECT_EQ(layer.scales, std::vector<float>{-0.75f});
  EXPECT_EQ(layer.zeros, std::vector<uint8_t>{8});
  // q = round(x / s): -8, 2, -0.5 -> 0, -1.5 -> -2, 0, 4, -4, -6.67 -> -7.
  EXPECT_EQ(layer.codes, (std::vector<uint8_t>{0, 10, 8, 6, 8, 12, 4, 1}));
  EXPECT_EQ(Values(QuantDequant(wt, MakeScheme(4, 8, true), {})),
            (std::vector<float>{6.0f, -1.5f, 0.0f, 1.5f, 0.0f, -3.0f, 3.0f, 5.25f}));

  // All-zero group: +thresh (fp16-rounded), never -0.
  QuantizedLayer zero =
      QuantizeToIntegers("z", torch::zeros({1, 8}), MakeScheme(4, 8, true), {});
  EXPECT_EQ(zero.scales, std::vector<float>{Fp16(kThresh)});
  EXPECT_EQ(QuantizeToIntegers("z", torch::zeros({1, 8}), MakeScheme(4, 8, true), {},
                               Fp32Scales())
                .scales,
            std::vector<float>{kThresh});
}

TEST(WeightQuantizerTest, ShortLastGroupIsPaddedAndDropped) {
  torch::manual_seed(1);
  torch::Tensor w = torch::randn({3, 40});
  for (bool sym : {true, false}) {
    torch::Tensor full = QuantDequant(w, MakeScheme(3, 32, sym), {});
    ASSERT_EQ(full.sizes(), w.sizes());
    // Zero padding never changes a group's range (it already contains 0), so the short group
    // quantizes exactly as on its own.
    torch::Tensor head = QuantDequant(w.narrow(1, 0, 32).contiguous(), MakeScheme(3, 32, sym), {});
    torch::Tensor tail = QuantDequant(w.narrow(1, 32, 8).contiguous(), MakeScheme(3, 8, sym), {});
    EXPECT_TRUE(torch::equal(full, torch::cat({head, tail}, 1))) << "sym=" << sym;

    QuantizedLayer layer = QuantizeToIntegers("l", w, MakeScheme(3, 32, sym), {});
    EXPECT_EQ(layer.groups(), 2);
    EXPECT_EQ(layer.codes.size(), 3u * 40u);
    EXPECT_EQ(layer.scales.size(), 3u * 2u);
    EXPECT_TRUE(layer.Validate().ok()) << layer.Validate();
  }
}

TEST(WeightQuantizerTest, GroupLargerThanRowFallsBackToPerRow) {
  torch::manual_seed(2);
  torch::Tensor w = torch::randn({4, 20});
  QuantizedLayer layer = QuantizeToIntegers("l", w, MakeScheme(4, 32, true), {});
  EXPECT_EQ(layer.group_size, 20);
  EXPECT_EQ(layer.scales.size(), 4u);
}

// The gradients autograd gives through the STE, checked against algorithm.md §2.2.
struct Grads {
  std::vector<float> v, alpha, beta;
};

Grads AutogradGrads(const torch::Tensor& w, const torch::Tensor& g, const Scheme& scheme,
                    QuantParams params) {
  params.v = params.v.clone().requires_grad_(true);
  params.max_scale = params.max_scale.clone().requires_grad_(true);
  params.min_scale = params.min_scale.clone().requires_grad_(true);
  (QuantDequant(w, scheme, params) * g).sum().backward();
  return {Values(params.v.grad()), Values(params.max_scale.grad()),
          Values(params.min_scale.grad())};
}

Grads ClosedFormGrads(const torch::Tensor& w, const torch::Tensor& g, const Scheme& scheme,
                      const QuantParams& params, int* clamped) {
  const int64_t out = w.size(0), in = w.size(1), group = scheme.group_size;
  const int64_t groups = in / group;
  const std::vector<float> wv = Values(w), gv = Values(g), vv = Values(params.v);
  const std::vector<float> av = Values(params.max_scale), bv = Values(params.min_scale);
  const float n = static_cast<float>(scheme.n()), qmax = static_cast<float>(scheme.qmax());
  Grads grads{std::vector<float>(wv.size()), std::vector<float>(av.size()),
              std::vector<float>(bv.size())};
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t k = 0; k < groups; ++k) {
      const int64_t base = o * in + k * group, gi = o * groups + k;
      float lo = 0, hi = 0;
      for (int64_t j = 0; j < group; ++j) {
        lo = std::min(lo, wv[base + j]);
        hi = std::max(hi, wv[base + j]);
      }
      const float alpha = std::clamp(av[gi], 0.0f, 1.0f), beta = std::clamp(bv[gi], 0.0f, 1.0f);
      double d_alpha = 0, d_beta = 0;
      if (scheme.sym) {
        const float a = -lo * beta, b = hi * alpha;
        const bool negative_wins = b < a;
        const float s = Fp16((negative_wins ? a : -b) / n);
        double d_s = 0;
        for (int64_t j = 0; j < group; ++j) {
          const float x = wv[base + j];
          const float rounded = std::nearbyint(x / s + vv[base + j]);
          const float r = (rounded >= -n && rounded <= n - 1) ? 1.0f : 0.0f;
          const float q = std::clamp(rounded, -n, n - 1);
          *clamped += r == 0;
          grads.v[base + j] = gv[base + j] * s * r;
          d_s += gv[base + j] * (q - r * x / s);
        }
        (negative_wins ? d_beta : d_alpha) = d_s * -(negative_wins ? lo : hi) / n;
      } else {
        const float m = lo * beta, big_m = hi * alpha;
        const float s = Fp16((big_m - m) / qmax);
        const float z = std::nearbyint(-m / s);
        for (int64_t j = 0; j < group; ++j) {
          const float x = wv[base + j];
          const float rounded = std::nearbyint(x / s + vv[base + j]) + z;
          const float r = (rounded >= 0 && rounded <= qmax) ? 1.0f : 0.0f;
          const float q = std::clamp(rounded, 0.0f, qmax);
          *clamped += r == 0;
          grads.v[base + j] = gv[base + j] * s * r;
          const double d = (q - z) - r * x / s + (r - 1) * m / s;
          d_alpha += gv[base + j] * d * hi / qmax;
          d_beta += gv[base + j] * (-d / qmax + (1 - r)) * lo;
        }
      }
      grads.alpha[gi] = static_cast<float>(d_alpha);
      grads.beta[gi] = static_cast<float>(d_beta);
    }
  }
  return grads;
}

void ExpectNear(const std::vector<float>& actual, const std::vector<float>& expected,
                double tolerance, const char* what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], tolerance * (1 + std::abs(expected[i])))
        << what << "[" << i << "]";
  }
}

TEST(WeightQuantizerTest, SteGradientsMatchClosedForms) {
  torch::manual_seed(3);
  const int64_t out = 6, in = 64;
  torch::Tensor w = torch::randn({out, in});
  torch::Tensor g = torch::randn({out, in});
  QuantParams params;
  params.v = torch::rand({out, in}) - 0.5;
  params.max_scale = 0.7 + 0.3 * torch::rand({out, 2});
  params.min_scale = 0.7 + 0.3 * torch::rand({out, 2});
  for (bool sym : {true, false}) {
    SCOPED_TRACE(sym ? "sym" : "asym");
    const Scheme scheme = MakeScheme(2, 32, sym);
    int clamped = 0;
    Grads expected = ClosedFormGrads(w, g, scheme, params, &clamped);
    EXPECT_GT(clamped, 0);  // The r_j = 0 branch is exercised.
    Grads actual = AutogradGrads(w, g, scheme, params);
    ExpectNear(actual.v, expected.v, 1e-6, "dV");
    ExpectNear(actual.alpha, expected.alpha, 1e-4, "dalpha");
    ExpectNear(actual.beta, expected.beta, 1e-4, "dbeta");
  }
}

TEST(WeightQuantizerTest, InitScaleIsTheBaseOfTheSymmetricScale) {
  torch::manual_seed(4);
  torch::Tensor w = torch::randn({2, 32});
  QuantParams params;
  params.init_scale = torch::tensor({-0.31f, 0.27f}).reshape({2, 1});
  params.max_scale = torch::tensor({1.5f, 2.5f}).reshape({2, 1}).requires_grad_(true);
  params.min_scale = torch::full({2, 1}, 0.5f, torch::requires_grad());
  const Scheme scheme = MakeScheme(4, 32, true);
  // alpha is clamped to [0, 2] here, and beta is unused.
  QuantizedLayer layer = QuantizeToIntegers("l", w, scheme, params);
  EXPECT_EQ(layer.scales, (std::vector<float>{Fp16(-0.31f * 1.5f), Fp16(0.27f * 2.0f)}));

  torch::Tensor g = torch::randn({2, 32});
  (QuantDequant(w, scheme, params) * g).sum().backward();
  EXPECT_FALSE(params.min_scale.grad().defined());
  // d/dalpha = init * sum_j g_j (q_j - r_j x_j / s); the clamped alpha of row 1 gets none.
  const std::vector<float> wv = Values(w), gv = Values(g);
  const float s = layer.scales[0];
  double expected = 0;
  for (int j = 0; j < 32; ++j) {
    const float rounded = std::nearbyint(wv[j] / s);
    const float r = (rounded >= -8 && rounded <= 7) ? 1.0f : 0.0f;
    expected += gv[j] * (std::clamp(rounded, -8.0f, 7.0f) - r * wv[j] / s);
  }
  expected *= -0.31;
  std::vector<float> grad = Values(params.max_scale.grad());
  EXPECT_NEAR(grad[0], expected, 1e-4 * (1 + std::abs(expected)));
  EXPECT_EQ(grad[1], 0.0f);
}

class WeightQuantizerModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    at::set_num_threads(2);
    absl::StatusOr<LlamaModel> model =
        LoadLlamaModel(LocalObjectStore::Create(kModelDir), torch::kCPU);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = new LlamaModel(*std::move(model));
  }
  void SetUp() override { ASSERT_NE(model_, nullptr); }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }

  // Perplexity on the eval tokens with every block Linear fake-quantized.
  static double RtnPerplexity(const Scheme& scheme, const QuantizerOptions& options) {
    std::ifstream in(kEvalTokens, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    absl::StatusOr<std::vector<int32_t>> tokens = ParseTokenFile(bytes.str(), 512, kEvalTokens);
    EXPECT_TRUE(tokens.ok()) << tokens.status();
    if (!tokens.ok()) return 0;
    absl::StatusOr<std::vector<std::vector<int32_t>>> windows =
        AllWindows(*tokens, 256, kEvalTokens);
    EXPECT_TRUE(windows.ok()) << windows.status();
    if (!windows.ok()) return 0;

    LlamaModel quantized = *model_;
    for (int i = 0; i < quantized.num_blocks(); ++i) {
      for (const std::string& name : LlamaBlockLinears()) {
        torch::Tensor& w = quantized.block(i).Linear(name);
        w = QuantDequant(w, scheme, {}, options);
      }
    }
    return EvaluatePerplexity(quantized, *windows, 16).perplexity();
  }

  static LlamaModel* model_;
};
LlamaModel* WeightQuantizerModelTest::model_ = nullptr;

TEST_F(WeightQuantizerModelTest, IntegersDequantizeToQuantDequantBitwise) {
  torch::manual_seed(5);
  const torch::Tensor& w = model_->block(0).down_proj;  // [64, 172]: 5 groups of 32 + 12.
  ASSERT_EQ(w.sizes(), (std::vector<int64_t>{64, 172}));
  for (bool sym : {true, false}) {
    for (int bits : {2, 3, 4, 8}) {
      const Scheme scheme = MakeScheme(bits, 32, sym);
      SCOPED_TRACE(SchemeName(scheme) + (sym ? " sym" : " asym"));
      QuantParams tuned;
      tuned.v = 0.5 * (torch::rand({64, 192}) - 0.5);
      tuned.max_scale = 0.8 + 0.25 * torch::rand({64, 6});
      tuned.min_scale = 0.8 + 0.25 * torch::rand({64, 6});
      for (const QuantParams& params : {QuantParams{}, tuned}) {
        QuantizedLayer layer = QuantizeToIntegers("model.layers.0.mlp.down_proj", w, scheme,
                                                  params);
        ASSERT_TRUE(layer.Validate().ok()) << layer.Validate();
        EXPECT_EQ(layer.groups(), 6);
        for (float s : layer.scales) EXPECT_EQ(s, Fp16(s));
        std::vector<float> expected = Values(QuantDequant(w, scheme, params));
        std::vector<float> actual = layer.Dequantize();
        ASSERT_EQ(actual.size(), expected.size());
        EXPECT_EQ(std::memcmp(actual.data(), expected.data(), actual.size() * sizeof(float)), 0);
      }
    }
  }
}

TEST_F(WeightQuantizerModelTest, RtnAsymW4G32PerplexityMatchesReference) {
  const Scheme scheme = MakeScheme(4, 32, /*sym=*/false);
  constexpr double kReference = 3.9235;  // shared/data/tinystories/README.md
  EXPECT_NEAR(RtnPerplexity(scheme, Fp32Scales()), kReference, 0.005 * kReference);
  EXPECT_NEAR(RtnPerplexity(scheme, {}), kReference, 0.005 * kReference);
}

}  // namespace
}  // namespace sr2::worker
