"""The standard build image on this machine (after `conveyor setup`): every runtime its catalog
names answers with the version the catalog records, the tools buildspecs call are there, the
npm-registry Node majors run npm/yarn/pnpm, the aws shim answers ECR login locally and hands
the rest to the real CLI, the host's CA is trusted, and Maven packages a JUnit project offline
from Debian's repository (docs/build-images.md has the pom this uses)."""

import os
import re
import shlex

import pytest
from stack_support import stack_missing

from conveyor.build.runtime_catalog import Catalog, catalog_of
from conveyor.providers.local import containers
from conveyor.providers.local.containers import Mount
from conveyor.providers.local.process import run
from conveyor.stack import checks, standard_image
from conveyor.stack import components as c

pytestmark = pytest.mark.podman


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    eng = checks.engine()
    if not containers.image_exists(eng, c.BUILD_IMAGE):
        stack_missing(f"{c.BUILD_IMAGE} is not built; run `conveyor setup`")
    found = catalog_of(checks.image_labels(eng, c.BUILD_IMAGE))
    if found is None:
        stack_missing(f"{c.BUILD_IMAGE} has no runtime catalog; run `conveyor setup`")
    return found


def sh(script: str, *, env: dict[str, str] | None = None, mounts=(), timeout: float = 300):
    """Run a bash script in BUILD_IMAGE; (exit code, stdout, stderr)."""
    eng = checks.engine()
    done = run(eng.run(c.BUILD_IMAGE, ["bash", "-c", script], rm=True, env=env, mounts=mounts,
                       timeout=timeout), check=False, dry_run=False)
    return done.returncode, done.stdout, done.stderr


def selected(version) -> str:
    """The shell prefix `runtime-versions` amounts to for one version: PATH and its env."""
    exports = [f"export {k}={shlex.quote(v)}" for k, v in version.env.items()]
    path = ":".join(version.path)
    if path:
        exports.append(f"export PATH={path}:$PATH")
    return "; ".join(exports or ["true"])


def test_every_runtime_in_the_catalog_answers_its_version(catalog):
    specs = {spec.probe_id: spec for spec in standard_image.RUNTIMES}
    lines = []
    for spec in specs.values():
        lines.append(f"printf '%s\\t' {shlex.quote(spec.probe_id)}; "
                     f"{' '.join(spec.argv)} 2>&1 | grep -m1 .")
    code, out, err = sh("\n".join(lines))
    assert code == 0, err
    answers = standard_image.parse_probe(out)
    again = standard_image.build_catalog(answers, {})
    for name, runtime in catalog.runtimes.items():
        assert [(v.key, v.version) for v in runtime.versions] == [
            (v.key, v.version) for v in again.runtimes[name].versions]
    assert set(catalog.runtimes) == {"nodejs", "python", "java", "golang", "ruby", "php"}
    assert [v.key for v in catalog.runtimes["nodejs"].versions] == ["18", "20", "22"]


def test_selecting_each_version_by_path_runs_that_version(catalog):
    script = []
    for name, runtime in sorted(catalog.runtimes.items()):
        for v in runtime.versions:
            probe = {"nodejs": "node --version", "python": "python3 --version",
                     "java": 'java --version | head -1; echo "$JAVA_HOME"',
                     "golang": "go version", "ruby": "ruby --version",
                     "php": "php --version | head -1"}[name]
            script.append(f"( {selected(v)}; echo \"== {name} {v.key}\"; {probe} )")
    code, out, err = sh("set -e\n" + "\n".join(script))
    assert code == 0, err
    blocks = dict(block.split("\n", 1) for block in out.split("== ")[1:])
    for name, runtime in catalog.runtimes.items():
        for v in runtime.versions:
            assert v.version in blocks[f"{name} {v.key}"], (name, v.key, blocks)
    assert "/usr/lib/jvm/java-17-openjdk-amd64" in blocks["java corretto17"]


@pytest.mark.parametrize("major", ["18", "20", "22"])
def test_npm_yarn_and_pnpm_under_every_node_major(catalog, major):
    version = catalog.runtimes["nodejs"].version(major)
    code, out, err = sh(f"set -e; {selected(version)}; node --version; npm --version; "
                        f"npx --version; yarn --version; pnpm --version")
    assert code == 0, err
    node, npm, npx, yarn, pnpm = out.split()
    assert node == f"v{version.version}"
    assert npm == npx and npm[0].isdigit()
    assert yarn.startswith("1.") and pnpm.startswith("10.")


def test_the_tools_buildspecs_call(catalog):
    code, out, err = sh("""set -e
echo 'name=$NAME' | NAME=web envsubst
echo 'a: {b: 7}' | yq -r .a.b
printf 'int main(void){return 0;}' > /tmp/t.c && gcc -o /tmp/t /tmp/t.c && /tmp/t && echo gcc-ok
javac -version 2>&1
mvn -B -v | head -1
gradle -v --offline | grep -m1 '^Gradle'
go version
ruby -v
php -v | head -1
python3 -m venv /tmp/venv && /tmp/venv/bin/python -c 'print("venv-ok")'
for t in git curl make zip unzip jq docker wget ssh; do command -v $t >/dev/null || echo "missing $t"; done
""", timeout=600)
    assert code == 0, err
    lines = re.sub(r"\x1b\[[0-9;]*m", "", out).splitlines()  # Maven colours its banner
    assert lines[:3] == ["name=web", "7", "gcc-ok"]
    assert lines[3].startswith("javac 17.")
    assert lines[4].startswith("Apache Maven 3.")
    assert lines[5].startswith("Gradle ")
    assert lines[6].startswith("go version go1.19")
    assert "venv-ok" in lines and not [line for line in lines if line.startswith("missing")]


def test_aws_the_real_cli_behind_the_local_ecr_login(catalog):
    code, out, err = sh("aws --version; aws ecr get-login-password --region eu-west-1; "
                        "aws sts get-caller-identity --query Account --output text; "
                        "aws s3 ls --region us-east-1; echo \"s3=$?\"",
                        env={"AWS_EC2_METADATA_DISABLED": "true"})
    lines = out.splitlines()
    assert lines[0].startswith("aws-cli/1.") and "conveyor-local-shim" in lines[0], out
    assert lines[1:3] == ["conveyor-local-registry", "000000000000"]
    assert lines[3] != "s3=0" and lines[3].startswith("s3=")
    assert "Unable to locate credentials" in err  # botocore's own error, not the shim's
    assert "is not available in Conveyor's local build image" not in err


def test_the_host_ca_is_trusted_by_curl_node_pip_and_java(catalog):
    if not standard_image.extra_ca_certificates():
        pytest.skip("this machine has no extra CA certificates to trust")
    code, out, err = sh("""set -e
curl -sS -o /dev/null -w 'curl %{http_code}\\n' https://registry.npmjs.org/
for major in 18 20 22; do
  /opt/conveyor/runtimes/nodejs/$major/bin/node -e \\
    "require('https').get('https://registry.npmjs.org/',
      r => { console.log('node$major', r.statusCode); process.exit(0); })"
done
pip download --quiet --no-deps --dest /tmp/d six && ls /tmp/d | grep -c six
keytool -list -cacerts -storepass changeit | grep -o '^debian:[^,]*' | sort
""", timeout=300)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:4] == ["curl 200", "node18 200", "node20 200", "node22 200"], out
    assert lines[4] == "1"  # pip reached PyPI
    names = standard_image.ca_file_names(standard_image.extra_ca_certificates())
    for name in names:  # Java's keystore, rewritten by ca-certificates-java
        assert f"debian:{name.removesuffix('.crt')}.pem" in lines[5:], name


POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example</groupId>
  <artifactId>hello</artifactId>
  <version>1.0.0</version>
  <packaging>jar</packaging>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency>
      <groupId>junit</groupId>
      <artifactId>junit</artifactId>
      <version>4.13.2</version>
      <scope>test</scope>
    </dependency>
  </dependencies>
  <build>
    <plugins>
{plugins}
    </plugins>
  </build>
</project>
"""
#: The plugin versions Debian bookworm packages (docs/build-images.md, "Maven without Central").
PLUGINS = {"clean": "3.2.0", "resources": "3.3.0", "compiler": "3.10.1", "surefire": "2.22.3",
           "jar": "3.3.0", "install": "3.1.0"}

APP = """package com.example;
public class App {
    public static String greet(String name) { return "Hello, " + name; }
}
"""
TEST = """package com.example;
import static org.junit.Assert.assertEquals;
import org.junit.Test;
public class AppTest {
    @Test public void greets() { assertEquals("Hello, web", App.greet("web")); }
}
"""


def test_maven_packages_a_junit_project_offline_from_debians_repository(catalog, tmp_path):
    project = tmp_path / "hello"
    (project / "src/main/java/com/example").mkdir(parents=True)
    (project / "src/test/java/com/example").mkdir(parents=True)
    plugins = "\n".join(
        f"      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-{name}-plugin"
        f"</artifactId><version>{version}</version></plugin>" for name, version in PLUGINS.items())
    (project / "pom.xml").write_text(POM.format(plugins=plugins))
    (project / "src/main/java/com/example/App.java").write_text(APP)
    (project / "src/test/java/com/example/AppTest.java").write_text(TEST)
    os.chmod(project, 0o777)
    code, out, err = sh("cd /src && mvn -B package 2>&1 | grep -E 'Tests run:|BUILD|ERROR'; "
                        "ls target/*.jar target/surefire-reports/",
                        mounts=[Mount(str(project), "/src")], timeout=600)
    assert "BUILD SUCCESS" in out, out
    assert "Tests run: 1, Failures: 0" in out
    assert "target/hello-1.0.0.jar" in out
    assert "TEST-com.example.AppTest.xml" in out
