// Command junit turns `go test -json` (read on stdin) into a JUnit XML report, the format the
// buildspec's report group reads, while echoing the tests' output as `go test -v` prints it.
// It exits 1 when a test or a package failed (including a package that did not compile), so
//
//	go test -json ./... | go run ./tools/junit -o reports/junit.xml
//
// fails the build exactly when `go test` would. Standard library only: the build has no module
// proxy to fetch a converter from.
package main

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type testCase struct {
	XMLName   xml.Name `xml:"testcase"`
	ClassName string   `xml:"classname,attr"`
	Name      string   `xml:"name,attr"`
	Time      string   `xml:"time,attr"`
	Failure   *message `xml:"failure,omitempty"`
	Skipped   *message `xml:"skipped,omitempty"`
}

type message struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

type suite struct {
	XMLName  xml.Name   `xml:"testsuite"`
	Name     string     `xml:"name,attr"`
	Tests    int        `xml:"tests,attr"`
	Failures int        `xml:"failures,attr"`
	Skipped  int        `xml:"skipped,attr"`
	Time     string     `xml:"time,attr"`
	Cases    []testCase `xml:"testcase"`
}

type suites struct {
	XMLName xml.Name `xml:"testsuites"`
	Suites  []suite  `xml:"testsuite"`
}

type pkgState struct {
	suite  suite
	output map[string]*strings.Builder // test name ("" for the package) -> its output
}

func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }

func main() {
	out := flag.String("o", "junit.xml", "where to write the JUnit XML report")
	flag.Parse()
	pkgs := map[string]*pkgState{}
	failed := false
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for scanner.Scan() {
		var e event
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil || e.Package == "" {
			fmt.Println(scanner.Text()) // not an event (a build error line): show it as it came
			continue
		}
		p := pkgs[e.Package]
		if p == nil {
			p = &pkgState{suite: suite{Name: e.Package}, output: map[string]*strings.Builder{}}
			pkgs[e.Package] = p
		}
		if p.output[e.Test] == nil {
			p.output[e.Test] = &strings.Builder{}
		}
		switch e.Action {
		case "output":
			fmt.Print(e.Output)
			p.output[e.Test].WriteString(e.Output)
		case "pass", "fail", "skip":
			if e.Test == "" {
				p.suite.Time = seconds(e.Elapsed)
				if e.Action == "fail" {
					failed = true
					if p.suite.Failures == 0 { // the package failed without a failing test: it did not build or run
						p.suite.Tests++
						p.suite.Failures++
						p.suite.Cases = append(p.suite.Cases, testCase{ClassName: e.Package, Name: "(package)",
							Time: seconds(e.Elapsed), Failure: &message{Message: "package failed", Text: p.output[""].String()}})
					}
				}
				continue
			}
			c := testCase{ClassName: e.Package, Name: e.Test, Time: seconds(e.Elapsed)}
			p.suite.Tests++
			if e.Action == "fail" {
				failed = true
				p.suite.Failures++
				c.Failure = &message{Message: "failed", Text: p.output[e.Test].String()}
			} else if e.Action == "skip" {
				p.suite.Skipped++
				c.Skipped = &message{Message: "skipped", Text: p.output[e.Test].String()}
			}
			p.suite.Cases = append(p.suite.Cases, c)
		}
	}
	if err := scanner.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "junit: reading go test -json:", err)
		os.Exit(2)
	}
	names := make([]string, 0, len(pkgs))
	for name := range pkgs {
		names = append(names, name)
	}
	sort.Strings(names)
	report := suites{}
	for _, name := range names {
		if s := pkgs[name].suite; s.Tests > 0 {
			report.Suites = append(report.Suites, s)
		}
	}
	data, err := xml.MarshalIndent(report, "", "  ")
	if err == nil {
		err = os.WriteFile(*out, append([]byte(xml.Header), append(data, '\n')...), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "junit:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}
