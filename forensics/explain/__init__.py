"""Where the model looked, and whether to believe it.

`registry` (the explanation methods by name: each turns the forward's captures into 24x24
scores), `rollout` (attention rollout and the head fusions), `relevance` (grad-rollout),
`checks` (the deep checks: faithfulness, stability, coverage, reliability, and the shared
judgements), `classic` (error level analysis and the noise residual).
"""
