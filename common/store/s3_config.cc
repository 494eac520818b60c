#include "common/store/s3_config.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/util/status_macros.h"

namespace sr2 {
namespace {

// Reads a whole small file; errors name the file only.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::ErrnoToStatus(errno, absl::StrCat("reading credentials file ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("reading credentials file ", path));
  return contents.str();
}

absl::Status CheckComplete(const S3Credentials& credentials, const std::string& source) {
  if (credentials.access_key_id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, " has no access key id"));
  }
  if (credentials.secret_access_key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, " has no secret access key"));
  }
  return absl::OkStatus();
}

// A positive integer variable, or `fallback` when unset.
absl::StatusOr<int64_t> PositiveIntVariable(const EnvLookup& env, const std::string& name,
                                            int64_t fallback) {
  const std::optional<std::string> text = env(name);
  if (!text) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(*text, &value) || value <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, "=\"", *text, "\" is not a positive integer"));
  }
  return value;
}

// The first set, non-empty variable of `names`.
std::optional<std::string> FirstSet(const EnvLookup& env,
                                    std::initializer_list<const char*> names) {
  for (const char* name : names) {
    std::optional<std::string> value = env(name);
    if (value && !value->empty()) return value;
  }
  return std::nullopt;
}

absl::StatusOr<S3Credentials> ResolveCredentials(const EnvLookup& env) {
  const std::optional<std::string> key_id = FirstSet(env, {"AWS_ACCESS_KEY_ID"});
  const std::optional<std::string> secret = FirstSet(env, {"AWS_SECRET_ACCESS_KEY"});
  if (key_id || secret) {
    S3Credentials credentials{key_id.value_or(""), secret.value_or(""),
                              FirstSet(env, {"AWS_SESSION_TOKEN"}).value_or("")};
    SR2_RETURN_IF_ERROR(
        CheckComplete(credentials, "the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"));
    return credentials;
  }
  if (std::optional<std::string> folder = FirstSet(env, {"SR2_S3_CREDENTIALS_DIR"})) {
    return ReadCredentialsFolder(*folder);
  }
  const std::string profile = FirstSet(env, {"AWS_PROFILE"}).value_or("default");
  if (std::optional<std::string> file = FirstSet(env, {"AWS_SHARED_CREDENTIALS_FILE"})) {
    return ReadSharedCredentialsFile(*file, profile);
  }
  if (std::optional<std::string> home = FirstSet(env, {"HOME"})) {
    const std::string file = absl::StrCat(*home, "/.aws/credentials");
    std::error_code error;
    if (std::filesystem::exists(file, error)) return ReadSharedCredentialsFile(file, profile);
  }
  return absl::FailedPreconditionError(
      "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
      "SR2_S3_CREDENTIALS_DIR or AWS_SHARED_CREDENTIALS_FILE");
}

}  // namespace

absl::Status ValidateS3Config(const S3Config& config) {
  const std::string& endpoint = config.endpoint;
  const size_t scheme_end = endpoint.find("://");
  if (scheme_end == std::string::npos || (endpoint.compare(0, scheme_end, "http") != 0 &&
                                          endpoint.compare(0, scheme_end, "https") != 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 endpoint \"", endpoint, "\" must start with http:// or https://"));
  }
  const std::string authority = endpoint.substr(scheme_end + 3);
  // Never echo an endpoint with user info: it may hold a secret.
  if (authority.find('@') != std::string::npos) {
    return absl::InvalidArgumentError(
        "S3 endpoint must not contain credentials; use AWS_ACCESS_KEY_ID / "
        "AWS_SECRET_ACCESS_KEY or a credentials file");
  }
  if (authority.empty() || authority.find_first_of("/?#") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 endpoint \"", endpoint, "\" must be scheme://host[:port]"));
  }
  if (config.region.empty()) return absl::InvalidArgumentError("S3 region is empty");
  if (config.region.find(':') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 region \"", config.region, "\" contains ':'"));
  }
  if (config.part_size < kS3MinPartSize) {
    return absl::InvalidArgumentError(absl::StrCat("S3 part size ", config.part_size,
                                                   " is below the minimum of ", kS3MinPartSize));
  }
  if (config.max_single_copy_size < config.part_size ||
      config.max_single_copy_size > kS3MaxSingleCopySize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "S3 max single copy size ", config.max_single_copy_size, " must lie between the part size ",
        config.part_size, " and ", kS3MaxSingleCopySize));
  }
  if (config.upload_concurrency < 1 || config.upload_concurrency > kS3MaxUploadConcurrency) {
    return absl::InvalidArgumentError(absl::StrCat("S3 upload concurrency ",
                                                   config.upload_concurrency, " must lie in [1, ",
                                                   kS3MaxUploadConcurrency, "]"));
  }
  if (config.max_attempts < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 max attempts ", config.max_attempts, " must be at least 1"));
  }
  if (config.initial_backoff_ms < 0 || config.max_backoff_ms < config.initial_backoff_ms) {
    return absl::InvalidArgumentError("S3 back-off must satisfy 0 <= initial <= max");
  }
  if (config.connect_timeout_ms <= 0 || config.request_timeout_ms <= 0) {
    return absl::InvalidArgumentError("S3 timeouts must be positive");
  }
  if (config.list_page_size < 1 || config.list_page_size > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 list page size ", config.list_page_size, " must lie in [1, 1000]"));
  }
  return CheckComplete(config.credentials, "the S3 credentials");
}

absl::StatusOr<S3Config> ResolveS3Config(const EnvLookup& env) {
  S3Config config;
  config.region = FirstSet(env, {"AWS_REGION", "AWS_DEFAULT_REGION"}).value_or("us-east-1");
  config.endpoint = FirstSet(env, {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"})
                        .value_or(absl::StrCat("https://s3.", config.region, ".amazonaws.com"));
  while (!config.endpoint.empty() && config.endpoint.back() == '/') config.endpoint.pop_back();
  if (std::optional<std::string> addressing = FirstSet(env, {"SR2_S3_ADDRESSING"})) {
    if (*addressing == "path") {
      config.addressing = S3Addressing::kPath;
    } else if (*addressing == "virtual") {
      config.addressing = S3Addressing::kVirtualHost;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("SR2_S3_ADDRESSING=\"", *addressing, "\" must be \"path\" or \"virtual\""));
    }
  }
  SR2_ASSIGN_OR_RETURN(const int64_t part_size_mib,
                       PositiveIntVariable(env, "SR2_S3_PART_SIZE_MIB",
                                           static_cast<int64_t>(config.part_size >> 20)));
  if (part_size_mib > 5 * 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("SR2_S3_PART_SIZE_MIB=", part_size_mib, " exceeds S3's 5 GiB part limit"));
  }
  config.part_size = static_cast<uint64_t>(part_size_mib) << 20;
  SR2_ASSIGN_OR_RETURN(const int64_t concurrency,
                       PositiveIntVariable(env, "SR2_S3_UPLOAD_CONCURRENCY",
                                           config.upload_concurrency));
  if (concurrency > kS3MaxUploadConcurrency) {
    return absl::InvalidArgumentError(absl::StrCat("SR2_S3_UPLOAD_CONCURRENCY=", concurrency,
                                                   " exceeds ", kS3MaxUploadConcurrency));
  }
  config.upload_concurrency = static_cast<int>(concurrency);
  SR2_ASSIGN_OR_RETURN(const int64_t attempts,
                       PositiveIntVariable(env, "SR2_S3_MAX_ATTEMPTS", config.max_attempts));
  config.max_attempts = static_cast<int>(std::min<int64_t>(attempts, 100));
  SR2_ASSIGN_OR_RETURN(config.credentials, ResolveCredentials(env));
  SR2_RETURN_IF_ERROR(ValidateS3Config(config));
  return config;
}

absl::StatusOr<S3Config> S3ConfigFromEnvironment() {
  return ResolveS3Config([](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  });
}

absl::StatusOr<S3Credentials> ReadSharedCredentialsFile(const std::string& path,
                                                        const std::string& profile) {
  SR2_ASSIGN_OR_RETURN(const std::string contents, ReadSmallFile(path));
  std::istringstream lines(contents);
  std::string line;
  std::string section;
  bool found_profile = false;
  S3Credentials credentials;
  int line_number = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    const std::string text(absl::StripAsciiWhitespace(line));
    if (text.empty() || text[0] == '#' || text[0] == ';') continue;
    if (text.front() == '[') {
      if (text.back() != ']') {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ":", line_number, ": unterminated section header"));
      }
      section = std::string(absl::StripAsciiWhitespace(text.substr(1, text.size() - 2)));
      found_profile = found_profile || section == profile;
      continue;
    }
    if (section != profile) continue;
    const size_t equals = text.find('=');
    if (equals == std::string::npos) {
      // The line may be a secret: say where it is, never what it is.
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": expected key = value"));
    }
    const std::string name(absl::StripAsciiWhitespace(text.substr(0, equals)));
    std::string value(absl::StripAsciiWhitespace(text.substr(equals + 1)));
    if (name == "aws_access_key_id") {
      credentials.access_key_id = std::move(value);
    } else if (name == "aws_secret_access_key") {
      credentials.secret_access_key = std::move(value);
    } else if (name == "aws_session_token") {
      credentials.session_token = std::move(value);
    }
  }
  if (!found_profile) {
    return absl::NotFoundError(
        absl::StrCat("credentials file ", path, " has no [", profile, "] profile"));
  }
  SR2_RETURN_IF_ERROR(
      CheckComplete(credentials, absl::StrCat("profile [", profile, "] of ", path)));
  return credentials;
}

absl::StatusOr<S3Credentials> ReadCredentialsFolder(const std::string& folder) {
  auto read = [&folder](const char* name, bool required) -> absl::StatusOr<std::string> {
    const std::string path = absl::StrCat(folder, "/", name);
    std::error_code error;
    if (!required && !std::filesystem::exists(path, error)) return std::string();
    SR2_ASSIGN_OR_RETURN(const std::string contents, ReadSmallFile(path));
    return std::string(absl::StripAsciiWhitespace(contents));
  };
  S3Credentials credentials;
  SR2_ASSIGN_OR_RETURN(credentials.access_key_id, read("access_key_id", true));
  SR2_ASSIGN_OR_RETURN(credentials.secret_access_key, read("secret_access_key", true));
  SR2_ASSIGN_OR_RETURN(credentials.session_token, read("session_token", false));
  SR2_RETURN_IF_ERROR(CheckComplete(credentials, absl::StrCat("credentials folder ", folder)));
  return credentials;
}

}  // namespace sr2
