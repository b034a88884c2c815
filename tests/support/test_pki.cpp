#include "test_pki.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace lmcache::testing {
namespace {

// Extensions of each kind of certificate, so the tests do not depend on the system openssl.cnf.
constexpr const char* kConfig = R"(
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
)";

// Runs `program args...` in `dir` with stdout and stderr to `output_path`; the exit code.
int run(const std::vector<std::string>& command, const std::string& dir,
        const std::string& output_path) {
  std::vector<char*> argv;  // made before fork(): the child only calls what is safe after it
  argv.reserve(command.size() + 1);
  for (const auto& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    if (chdir(dir.c_str()) != 0) _exit(126);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

bool TestPki::openssl_available() { return run({"openssl", "version"}, "/", "/dev/null") == 0; }

TestPki::TestPki() {
  std::string pattern = (std::filesystem::temp_directory_path() / "lmcache-pki-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  std::ofstream(path("pki.cnf")) << kConfig;
  openssl({"req",    "-x509",   "-config", "pki.cnf",     "-extensions",
           "ca_ext", "-newkey", "ec",      "-pkeyopt",    "ec_paramgen_curve:prime256v1",
           "-nodes", "-keyout", "ca.key",  "-out",        "ca.pem",
           "-days",  "2",       "-subj",   "/CN=Test CA", "-set_serial",
           "1"});
  ca_ = {path("ca.pem"), path("ca.key")};
}

TestPki::~TestPki() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void TestPki::openssl(const std::vector<std::string>& args) const {
  std::vector<std::string> command{"openssl"};
  command.insert(command.end(), args.begin(), args.end());
  const std::string output_path = path("openssl.out");
  if (run(command, dir_, output_path) == 0) return;
  std::stringstream output;
  output << std::ifstream(output_path).rdbuf();
  throw std::runtime_error("openssl " + args.front() + " failed: " + output.str());
}

void TestPki::request(const std::string& name, const std::string& common_name) const {
  openssl({"req", "-new", "-config", "pki.cnf", "-newkey", "ec", "-pkeyopt",
           "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", name + ".key", "-out",
           name + ".csr", "-subj", "/CN=" + common_name});
}

CertificatePair TestPki::sign(const std::string& name, const std::string& extensions,
                              uint64_t serial) const {
  openssl({"x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial",
           std::to_string(serial), "-days", "2", "-extfile", "pki.cnf", "-extensions", extensions,
           "-out", name + ".pem"});
  return {path(name + ".pem"), path(name + ".key")};
}

CertificatePair TestPki::server(const std::string& name, uint64_t serial) {
  request(name, "127.0.0.1");
  return sign(name, "server_ext", serial);
}

CertificatePair TestPki::client(const std::string& name, const std::string& common_name) {
  request(name, common_name);
  return sign(name, "client_ext", 1000);
}

CertificatePair TestPki::self_signed(const std::string& name, const std::string& common_name) {
  openssl({"req", "-x509", "-config", "pki.cnf", "-extensions", "client_ext", "-newkey", "ec",
           "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", name + ".key", "-out",
           name + ".pem", "-days", "2", "-subj", "/CN=" + common_name});
  return {path(name + ".pem"), path(name + ".key")};
}

}  // namespace lmcache::testing
