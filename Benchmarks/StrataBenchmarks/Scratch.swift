/// A scratch output buffer for decoders, allocated once per benchmark.
final class Scratch<T> {
    let pointer: UnsafeMutablePointer<T>
    let capacity: Int

    init(capacity: Int, zero: T) {
        self.capacity = capacity
        pointer = .allocate(capacity: capacity)
        pointer.initialize(repeating: zero, count: capacity)
    }

    deinit { pointer.deallocate() }

    func array(count: Int) -> [T] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
