"""Patterns about a post as a whole rather than a question type (see patterns.py for the form).

OFF_TOPIC patterns mark questions the service has no experiment for (installing, error
messages, exporting models, course admin, BN's software); BN_CONTEXT says whether a post is
about normalization at all; EVAL_CONTEXT and DROPOUT_CONTEXT tell a post about model.eval()
that concerns BN from one that concerns dropout.
"""

from __future__ import annotations

import re

from .patterns import BN, compile_weighted

# Signs that a question is about tooling, errors or admin rather than how BN behaves.
OFF_TOPIC: list[tuple[float, str]] = [
    (3.0, r"\b(?:install\w*|pip|conda|wheel|drivers?|cudnn|homebrew)\b"),
    # BN's own error for a batch of one is a small-batch question, not an error report.
    (3.0, r"(?:shape|size|dimension)s? (?:error|mismatch)|size mismatch|"
          r"\b\w{1,30}error\b(?!:? expected more than (?:1|one) value per channel)|"
          r"traceback|exception|throws|has no attribute|should contain \d+ elements"),
    (3.0, r"out of memory|\boom\b"),
    (3.0, r"(?:save|saved|load|export|convert)\w* (?:\w+ ){0,3}(?:model|checkpoint|state dict|"
          r"onnx|tflite)|\bonnx\b|\btflite\b"),
    (2.0, r"\bsyntax\b|\bapi\b|documentation|num ?workers|dataloader|hangs?\b"),
    (2.5, r"\bno ?grad\b|requires ?grad|\bis available\b|\btorch\.\w+|\bsummary\(\)"),
    (2.0, r"\bfold\w* (?:\w+ ){0,3}into|faster inference|deploy\w*"),
    # BN questions only about software: fusing or folding BN into a conv for inference,
    # converting between frameworks, quantization, half precision, a kernel's speed.
    (3.0, r"\bfus(?:e|ed|es|ing|ion)\b|\bfold(?:ing|ed)? (?:the )?(?:bn|batch ?norm\w*)|"
          r"\bquanti[sz]\w*|\bconverter\b|\bfp16\b|half precision|mixed precision|"
          r"(?:pytorch|keras|tensorflow|caffe|mxnet|tf) to (?:pytorch|keras|tensorflow|caffe|"
          r"mxnet|tf|onnx|coreml|tensorrt)\b|\btensorrt\b|\bcoreml\b|\btypo\b"),
    # Changes to a code base (a pull request, a patch, tests), a BN layer's speed on some
    # hardware, the shapes its input may take: reports about software, not BN's behaviour.
    (3.0, r"\bthis (?:pr|pull request|patch|commit)\b|\bpull request\b|\bsummary:|"
          r"\breviewed by\b|\bunit ?tests?\b|\bfix\w* (?:the |a |an )?(?:\w+ ){0,3}tests\b"),
    (2.5, r"\bslow(?:er)? than\b|\bslow(?:s|ed)? down\b(?! (?:the )?(?:converg|learn|train))|"
          r"\bslowdown\b|\bslow (?:bn|batch ?norm)|(?:bn|batch ?norm\w*)(?: layers?)? (?:is |are )?"
          r"(?:very |much |really |so )?slow\b|"
          r"\b(?:training|inference|computation(?:al)?|running|execution) (?:speed|time)\b|"
          r"\bspeed of\b|\bcpu\b|optimi[sz]\w* (?:the )?computation"),
    (2.5, r"\b(?:additional|extra|input|output|wrong|channel) dimensions?\b|\(n, ?c\b|"
          r"\binput shapes?\b|batch ?norm ?[123]d (?:\w+ ){0,3}batch ?norm ?[123]d|"
          r"not (?:copy\w*|transferr\w*) (?:correctly|properly)"),
    (3.0, r"\b(?:quiz|assignment|homework|certificate|deadline|grader|submit)\b"),
    (2.0, r"\b(?:keras|tensorflow|jax) (?:vs|or|versus)\b|\b(?:vs|or|versus) (?:keras|tensorflow|"
          r"pytorch)\b|in tensorflow|in keras"),
    (2.0, r"\bgpu (?:should|to) (?:i )?buy|\bbuy\b|recommend (?:a|some) (?:good )?(?:book|course)"),
    (2.0, r"\bnumpy\b|matplotlib|\bplot\w*"),
    (2.0, r"download\w*"),
    (2.0, r"(?<!batch )(?:normali[sz]e|standardi[sz]e|scale) (?:my |the )?(?:input|images?|"
          r"pixels?|data\b)|"
          r"divide by 255"),
]

# The post is about normalization at all (used to down-weight posts that never mention it).
# BN's own error message and its buffers also say the post is about BN.
BN_CONTEXT = (BN + r"|layer ?norm|group ?norm|instance ?norm|rms ?norm|normali[sz]ation layer|"
              r"(?:running|moving) (?:mean|var|stat)|expected more than 1 value per channel|"
              # Normalization as a layer of the network, not of the input data.
              r"(?:without|no|any) (?:any )?normali[sz]ation (?:layers? )?(?:after|before|between|"
              r"in (?:the |each |every )?(?:layers?|blocks?|network))|"
              r"(?:train\w*|works?) without (?:any )?normali[sz]ation|"
              r"pre ?activation (?:resnet|block)|intra ?batch (?:communication|leak\w*|info\w*)|"
              # A conv without its bias: what the bias is dropped for is the BN after it.
              r"bias ?= ?false|\b(?:no|without|don'?t (?:use|need)|not (?:use|using)) (?:any )?"
              r"bias(?:es)? (?:in|for|on) (?:the |a |your )?conv\w*")
# model.eval() switches BN and dropout: a post about it that never names dropout is about BN.
EVAL_CONTEXT = r"\.?eval ?\(\)|\beval(?:uation)? mode\b"
DROPOUT_CONTEXT = r"dropout|drop out\b"


COMPILED_OFF_TOPIC = compile_weighted(OFF_TOPIC)
COMPILED_BN_CONTEXT = re.compile(BN_CONTEXT)
COMPILED_EVAL_CONTEXT = re.compile(EVAL_CONTEXT)
COMPILED_DROPOUT_CONTEXT = re.compile(DROPOUT_CONTEXT)
