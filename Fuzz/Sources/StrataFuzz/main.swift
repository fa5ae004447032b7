import CLibFuzzer
import Glibc

// StrataFuzz TARGET [libFuzzer flags] [corpus directories]   fuzz one target
// StrataFuzz --list                                         the targets, one a line
// StrataFuzz --write-seeds DIRECTORY                        the seed corpus, DIRECTORY/TARGET/*
//
// One executable for every target (one link instead of nine). The target is the first
// argument; it is also put in STRATA_FUZZ_TARGET, so that the processes libFuzzer starts
// itself (-fork, -jobs, -minimize_crash), which get only libFuzzer's flags, fuzz the same one.

func fail(_ message: String) -> Never {
    printError("StrataFuzz: \(message)")
    exit(2)
}

// Swift's runtime backtracer would take a crash before libFuzzer does (and can sit for
// minutes symbolicating an instrumented binary): libFuzzer must see the signal to save
// the input. The runtime reads the setting at start-up, so start again with it.
if getenv("SWIFT_BACKTRACE") == nil {
    setenv("SWIFT_BACKTRACE", "enable=no", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    fail("cannot restart with SWIFT_BACKTRACE=enable=no: \(String(cString: strerror(errno)))")
}

let arguments = CommandLine.arguments
if arguments.count >= 2, arguments[1] == "--list" {
    for target in FuzzTarget.all { print(target.name) }
    exit(0)
}
if arguments.count >= 2, arguments[1] == "--write-seeds" {
    guard arguments.count == 3 else { fail("usage: StrataFuzz --write-seeds DIRECTORY") }
    Seeds.write(to: arguments[2])
    exit(0)
}

var libFuzzerArguments = arguments
if arguments.count >= 2, FuzzTarget.named(arguments[1]) != nil {
    setenv("STRATA_FUZZ_TARGET", arguments[1], 1)
    libFuzzerArguments.remove(at: 1)
}
guard let name = getenv("STRATA_FUZZ_TARGET").map({ String(cString: $0) }), let target = FuzzTarget.named(name) else {
    fail("usage: StrataFuzz TARGET [libFuzzer flags] [corpus directories]; targets: "
         + FuzzTarget.all.map(\.name).joined(separator: ", "))
}
FuzzTarget.selected = target
target.prepare()

let callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt = { data, size in
    FuzzTarget.selected!.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

// libFuzzer keeps pointers into argv for the whole run: the strings are never freed.
var argc = CInt(libFuzzerArguments.count)
let cStrings = libFuzzerArguments.map { strdup($0) } + [nil]
let argvStorage = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: cStrings.count)
argvStorage.initialize(from: cStrings, count: cStrings.count)
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argvStorage
exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
