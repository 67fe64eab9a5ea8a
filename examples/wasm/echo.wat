;; echo: copies the task input to the output, 64 KiB at a time.
(module
  (import "edgenet" "read_input" (func $read_input (param i32 i32 i32) (result i32)))
  (import "edgenet" "write_output" (func $write_output (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (local $offset i32)
    (local $n i32)
    (block $done
      (loop $next
        (local.set $n (call $read_input (i32.const 0) (local.get $offset) (i32.const 65536)))
        (br_if $done (i32.eqz (local.get $n)))
        (drop (call $write_output (i32.const 0) (local.get $n)))
        (local.set $offset (i32.add (local.get $offset) (local.get $n)))
        (br $next)))
    (i32.const 0)))
