;; grow_memory: grows its memory one 64 KiB page at a time until memory.grow refuses
;; (returns -1 at the payload's memory_mb cap), then traps with `unreachable`, as an
;; allocator does when it is out of memory. The sandbox reports `out_of_memory`.
(module
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (loop $more
      (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    (unreachable)))
