;; infinite_loop: never returns. The sandbox stops it with `out_of_fuel` (or `timeout`).
(module
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (local $i i64)
    (loop $forever
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $forever))
    (i32.const 0)))
