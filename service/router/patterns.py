"""Weighted phrase patterns: what learners write when they ask each question type.

Every pattern is a regular expression over normalized text (score.normalize: lower case, Greek
letters spelled out, arrows as " then ", hyphens between words as spaces, typos repaired). A
text's score for a type is the sum of the weights of the patterns that match it, each counted
once. Weights: about 3 for a phrase that names the question by itself ("dropout", "weight
decay", "eval mode"), 1.5-2.5 for strong cues, 1 or less for words shared with other types.
A negated mention ("no dropout", "without dropout") is not evidence.

The signs that a post is about something else, or about normalization at all, are in
context_patterns.py.
"""

from __future__ import annotations

import re

# Named variants count too: AdaBN, DSBN, SyncBN, ShuffleBN, FrozenBatchNorm2d, GhostBN.
BN = (r"(?:\b(?:ada|ds|shuffle|frozen|ghost)?bn\b|\b(?:sync|frozen|ghost)?batch ?(?:re)?norm\w*|"
      r"\bbatch (?:re)?normali[sz]\w*|\bbatchnormali[sz]\w*|\bsync ?bn\b)")
ACT = (r"(?:relu|activations?|activation (?:function|layer)s?|non ?linearit(?:y|ies)|sigmoid|tanh|"
       r"gelu)")
UNDO = (r"(?:undo\w*|cancel\w*(?: out)?|revert\w*|revers\w*|invert\w*|recover\w*|restor\w*|"
        r"negat\w*|counteract\w*|nullif\w*|defeat\w*|(?:un|de) ?normali[sz](?:e|es|ing)\b)")
RUNNING = (r"(?:running|moving|exponential\w*(?: weighted)?|\bema\b|\bewa\b|population|"
           r"accumulated|historical)")
STATS = r"(?:averages?|means?|mean ?\S?var\w*|variances?|stat\w*|estimat\w*|moments?)"
SMALL_BATCH = (r"(?:(?:small|tiny|little|few|micro|small ?ish|modest)(?: mini)? ?batch|"
               r"batch(?:es)? (?:are|is) (?:tiny|small|very small)|"
               r"batch(?: size)? (?:is |are |gets )?(?:too|very|really) (?:small|tiny)|"
               r"(?:a|per|one) batch of [1-8]\b|"
               r"batch size (?:of |is |was |= ?|: ?)?[1-8]\b|"
               r"\bbs ?=? ?[1-8]\b|"
               r"[1-8] (?:images|samples|examples) (?:per|in each) (?:gpu|batch))")

TYPE_PATTERNS: dict[str, list[tuple[float, str]]] = {
    "gamma_beta_undo": [
        # Real posts: affine=False, zero-initialised scale, learnable scale and shift.
        (2.5, r"\baffine\b|zero ?init\w*|init\w* (?:\w+ ){0,3}(?:to|as|with) zeros?|"
              r"\bscale (?:parameter|factor)s?\b|fix[_ ]?gamma|scale ?(?:/|and|&)? ?shift|"
              r"zero (?:gamma|scale)|gamma (?:=|to|as|of) ?(?:0|zero)\b|zero[_ ]?residual"),
        (2.0, r"\b(?:gamma|beta)s?\b.{0,60}\b(?:gamma|beta)s?\b"),
        (1.0, r"\b(?:gamma|beta)s?\b"),
        # The values gamma and beta hold or start from ("gammas are all ones").
        (2.0, r"\b(?:gamma|beta)s? (?:\w+ )?(?:are |is |were |was |set to |"
              r"initiali[sz]ed (?:to |as |with )?)(?:all |always |identically )?"
              r"(?:ones?|zeros?|1|0)\b"),
        (1.5, r"\b(?:scale and shift|shift and scale|rescale|re ?shift|affine|learn(?:ed|t|able) "
              r"(?:scale|shift)|trainable (?:scale|shift)|scale (?:&|and) shift)"),
        (2.0, UNDO),
        (1.0, r"\bidentity (?:transform\w*|op\w*|mapping|function)|\bidentity\b"),
        (1.5, r"(?:back|where) (?:we|it|they) (?:started|were)|back to (?:whatever|the original|"
              r"where)|original (?:activations|input|distribution|mean|values)"),
        (1.5, r"(?:gamma|scale) ?=? ?(?:sigma|sqrt|the (?:batch )?std|std)|"
              r"(?:beta|shift) ?=? ?(?:mu|the (?:batch )?mean|e ?\[)"),
        (1.0, r"\b(?:point(?:less)?|self defeating|why bother|what(?:'s| is) (?:the )?"
              r"(?:point|gained)|in the first place)\b"),
        (1.0, r"reparameteri[sz]\w*"),
        # Caffe's Scale layer after BatchNorm holds gamma and beta; how BN's own parameters
        # are counted or initialised.
        (2.5, r"\bscale layers?\b|(?<!fix the )(?<!freeze the )(?<!update the )"
              r"(?:params|parameters|weights) (?:of|in|on) (?:the |a |each )?"
              r"(?:bn|batch ?norm\w*)(?: layers?| modules?)?\b(?! (?:are |is )?(?:not )?updat)"),
        (1.5, r"learn\w* to (?:output|reproduce|return|copy|recover|undo)|"
              r"(?:output|reproduce|return|copy)\w* (?:exactly )?(?:its|the) (?:own )?input"),
        (1.5, r"learn(?:able|ed|t)? (?:params|parameters|scale|shift|offset)|scale and offset|"
              r"(?:scale|shift|offset) (?:learning|learnt|learned)\b|"
              r"offset and scale|per channel (?:params|parameters)|two parameters"),
        (1.0, r"\b(?:put|add|bring|give|sets?)\w* (?:\w+ ){0,4}(?:right )?back\b|circular"),
        (1.0, r"\b(?:backprop\w*|gradient descent|the optimizer|sgd)\b.{0,50}" + UNDO),
        # The gradient through the batch statistics, or the statistics detached from it (the
        # experiment's detached arm).
        (2.5, r"\b(?:backprop\w*|back ?propagat\w*|gradients?|stop ?gradient|no ?grad|"
              r"detach\w*) (?:\w+ ){0,4}(?:through|to|of|from|on|in|for|wrt) (?:the )?"
              r"(?:batch |bn |mini ?batch )?(?:mean|variance|var|statistics|stats|moments)\b|"
              r"\b(?:mean|variance|statistics|stats|moments) (?:\w+ ){0,3}(?:is |are )?"
              r"(?:detach\w*|(?:not |no )?(?:back ?propagat|backprop)\w*|stop ?gradient)"),
    ],
    "covariate_shift_generalization": [
        # Real posts: what BN does at all, whether it is worth it, BN as a regularizer.
        (2.0, r"what (?:is|does) (?:the )?(?:bn|batch ?norm\w*)|how (?:does )?(?:bn|batch ?norm\w*|"
              r"it) (?:help|work)|(?:role|purpose|benefit|point) of (?:the )?(?:bn|batch ?norm\w*)|"
              r"worth|(?:any )?other benefit|worse than without|internal covariate|"
              r"regulari[sz]\w* effect|act\w* (?:like|as) (?:a )?regulari[sz]"),
        (2.5, r"covariate shift"),
        (2.5, r"generali[sz]\w*"),
        (1.0, r"(?:distribution|feature|input|activation)s? (?:\w+ )?(?:shift|drift|chang|wander|"
              r"mov|vary)\w*"),
        (1.0, r"(?:shift|drift|chang|wander|mov|vary)\w* (?:\w+ ){0,3}(?:distribution|features?)"),
        (1.5, r"nois\w* .{0,40}(?:generali[sz]|regulari[sz]|overfit)\w*"),
        (1.0, r"\b(?:jitter\w*|perturb\w*)"),
        (1.0, r"val(?:idation)? (?:loss|accuracy|error)|test (?:performance|loss|error)"),
        (1.5, r"regulari[sz]\w*"),
        (1.5, r"augment\w*"),
        (1.0, r"\bcats?\b"),
        (1.5, r"overfit\w*|unseen data|test accuracy|robust\w*"),
        (1.0, r"\bvariety\b|\bvaried\b|divers\w*"),
        (2.5, r"ghost (?:batch|bn)"),
        (1.5, r"noise (?:inject|after)\w*|(?:random|add\w*) noise|noise injection"),
        (1.0, r"(?:reason|why) (?:\w+ ){0,3}(?:works?|helps?)\b"),
        (1.0, r"\bstable distributions?|stabili[sz]\w* (?:the )?distributions?"),
        # Whether BN pays off at all: better or worse results with it than without.
        (1.5, r"(?:bn|batch ?norm\w*) (?:\w+ ){0,4}(?:improv|increas|boost|hurt|help)\w* "
              r"(?:the |my )?(?:\w+ )?(?:results?|performance|accuracy)|"
              r"perform\w* (?:worse|better|poorly)"),
    ],
    "small_batch_statistics": [
        # Real posts: synchronized BN across GPUs, per-GPU batches, batch size 1.
        (2.5, r"sync\w* ?(?:batch ?norm\w*|bn)|\bsync ?bn\b|batch ?norm ?sync|"
              r"(?:multi(?:ple)?|several|across|between|different|\d) ?gpus|data ?parallel|"
              r"distributed (?:training|data)"),
        (2.0, r"batch ?size (?:is |of |= ?|was |to )?(?:1|one|2|two)\b|\bbatchsize ?=? ?1\b|"
              r"\bbs ?= ?1\b|single (?:sample|image|example) (?:per|in a) batch|"
              r"(?:reduc|decreas|small|low)\w* (?:the )?batch ?size|batch ?size (?:is )?(?:too )?"
              r"small|larger batch ?size"),
        (3.5, r"expected more than (?:1|one) value per channel|batch ?renorm\w*"),
        # Shuffling BN (MoCo): batch statistics leak information within a per-GPU batch.
        (3.0, r"shuffl\w* (?:the )?(?:bn|batch ?norm\w*)|(?:bn|batch ?norm\w*) shuffl\w*|"
              r"batch shuffl\w*|intra ?batch"),
        (2.5, SMALL_BATCH),
        (1.0, RUNNING + r" " + STATS),
        (2.5, RUNNING + r".{0,60}(?:during|in|while|for|when) (?:the )?(?:forward pass|"
              r"training|train\b)"),
        (1.5, r"(?:during|while|in) training.{0,40}" + RUNNING),
        (1.5, r"nois\w*.{0,40}(?:estimat|mean|variance|stat)|(?:estimat|mean|variance|stat)\w*"
              r".{0,40}(?:nois|unreliable|inaccurate|garbage|rough)\w*"),
        (3.0, r"batch renorm\w*"),
        (1.0, r"batch (?:stat\w*|mean|moments?)|per batch"),
        (1.0, r"\bper gpu\b|gpu memory"),
        (2.0, r"(?:handful|few|couple) of (?:samples|images|examples)"),
        # A batch of one: "single-item batches", "the last batch holds only one sample".
        (2.5, r"single ?(?:item|sample|image|example|element) batch\w*|batch\w* (?:\w+ ){0,3}"
              r"(?:only |just )?(?:one|a single|1) (?:item|sample|image|example|element)s?\b"),
        (1.0, r"forward pass"),
        (1.5, r"(?:use|using|plug|with)\w* (?:the )?" + RUNNING),
    ],
    "activation_order": [
        (2.0, r"\b(?:sits?|placed?|go(?:es)?|put|insert\w*) between\b|between (?:the )?(?:layers|"
              r"conv\w*|linear|dense)|where (?:should |does |do )?(?:bn|batch ?norm\w*) "
              r"(?:go|sit|belong)|\bplacement\b"),
        (3.0, r"(?:before|after|prior to|follow\w*) (?:or (?:before|after) )?(?:the )?" + ACT),
        (3.0, r"\b" + ACT + r" (?:before|after|then|or|vs|versus) (?:the )?" + BN),
        (3.0, BN + r" (?:then|before|after|or|vs|versus) (?:the )?" + ACT),
        (2.0, r"\b(?:comes?|goes?|go|put) first\b|which (?:comes|goes) (?:first|before)"),
        (2.0, r"\border(?:ing|s)?\b"),
        (2.0, r"pre ?activations?|post ?activations?|(?:input|output)s? (?:to|of) (?:the |its )?"
              r"(?:" + ACT + r"|sigmoid)|its output|" + ACT + r" (?:outputs?|inputs?)"),
        (1.5, r"\bwhere (?:do|should|does|to) (?:i |you |we |it )?(?:put|place|go|insert|add)|"
              r"relative to|placement|position of"),
        # Where BN sits in the network: as its final layer, before its output.
        (2.5, r"(?:bn|batch ?norm\w*)(?: layers?)? (?:as|at|in|on|before) (?:the |a |its )?"
              r"(?:final|last|output) (?:network )?(?:layers?|outputs?)\b|(?:final|last|output) "
              r"(?:network )?(?:layers?|outputs?) (?:\w+ ){0,6}(?:include|have|use|with)\w* "
              r"(?:a |the )?(?:bn|batch ?norm)"),
        # BN before or after a conv, linear or upsampling layer, or the first layer.
        (2.5, r"(?:bn|batch ?norm\w*)(?: layers?)? (?:(?:comes?|goes?|is|are|placed?|used|applied|"
              r"inserted|added) )*(?:before|after) (?:the |every |each |a |an )?(?:first )?"
              r"(?:conv\w*|linear|dense|fc|upsampl\w*|pool\w*|layers?)\b|"
              r"\b(?:conv\w*|linear|dense|fc)(?: layers?)? (?:before|after|then|followed by) "
              r"(?:the |a )?(?:bn|batch ?norm)"),
        # Where BN sits among the layers: the first or last layer or block, the network's input.
        (2.5, r"(?:bn|batch ?norm\w*)(?: layers?)? (?:(?:is|as|on|in|at|to|for|after|before) )+"
              r"(?:the |a |each |every |its )?(?:first|last|final|initial|input) "
              r"(?:conv\w* )?(?:layers?|blocks?|conv\w*)\b|"
              r"\b(?:first|last|final) (?:conv\w* )?(?:layers?|blocks?)\b (?:\w+ ){0,8}"
              r"(?:bn|batch ?norm)|\b(?:start|begin)\w* (?:each |every |the |a )?(?:model|network|"
              r"net)? ?with (?:a |an )?(?:bn|batch ?norm)"),
        # BN and a residual block's addition: which comes first, BN on the shortcut.
        (2.5, r"\b(?:add|addition|sum|residual|shortcut|skip(?: connection)?|identity)\w* "
              r"(?:\w+ ){0,2}(?:before|after) (?:the )?(?:bn|batch ?norm)|"
              r"(?:bn|batch ?norm\w*|normali[sz]ation) (?:\w+ ){0,5}(?:before|after|on) (?:the )?"
              r"(?:addition|add|sum|residual|shortcut|skip)"),
        (1.0, r"\bwx ?\+ ?b\b"),
        (1.0, r"\b" + ACT + r"\b"),
        (0.5, r"the other way round|both orders"),
    ],
    "learning_rate": [
        (1.5, r"\bconverg\w*|learning ?rate (?:of|for) (?:the )?(?:bn|batch ?norm)"),
        # How fast training converges with BN, faster or slower.
        (2.0, r"(?:slow|speed|accelerat|fast|quick)\w* (?:up )?(?:the |its |my )?converg\w*|"
              r"converg\w* (?:\w+ ){0,2}(?:faster|slower|speed|quicker|more quickly|rate)"),
        (2.0, r"learning rates?|\blrs?\b|step sizes?"),
        (2.5, r"(?:higher|larger|bigger|big|high|large|aggressive|crank up|raise|increase\w*|"
              r"\d+ ?x) (?:the )?(?:learning rates?|\blr\b|step sizes?)"),
        (1.0, r"diverg\w*|blows? up|\bnan\b"),
        (1.5, r"(?:train|converg)\w* faster|speeds? up (?:training|convergence)|fewer (?:steps|"
              r"epochs|iterations)"),
        (1.0, r"(?:sensitiv|robust|tolerat|stable)\w*.{0,40}(?:learning rate|\blr\b)|"
              r"(?:learning rate|\blr\b).{0,40}(?:sensitiv|robust|tolerat|stable|range)\w*"),
    ],
    "deep_gradients": [
        # Real posts: whether a (residual) network needs BN at all, training without it.
        (2.5, r"without (?:any )?(?:bn|batch ?norm\w*|normali[sz]ation)|"
              r"(?:don'?t|didn'?t|not|never|no) (?:you |we |they |i )?(?:to )?(?:use |using |"
              r"include |add |introduce |apply )?(?:any )?(?:\w+ and )?(?:bn|batch ?norm\w*)\b"
              # "not using BN in eval mode" is not a question of needing BN; "in your model" is.
              r"(?! (?:in|at|on|for|after|before|to) (?!(?:the|your|my|this|our|their) "
              r"(?:model|network|net|architecture|code)\b))|"
              r"remov\w* (?:the |all )?(?:bn|batch ?norm\w*)|"
              r"(?:dropping|drop) (?:the )?(?:bn|batch ?norm\w*)|fixup|skipinit|rezero|"
              r"need (?:the )?(?:bn|batch ?norm\w*)|(?:bn|batch ?norm\w*) (?:layers? )?"
              r"(?:is |are |was |were )?not used|(?:bn|batch ?norm\w*) in every layer"),
        (2.5, r"(?:bn|batch ?norm\w*) (?:\w+ ){0,2}(?:is |was |were |are )?(?:missing|"
              r"left out|omitted|commented out|absent)|(?:left|leave|leaving) out (?:the )?"
              r"(?:bn|batch ?norm)|(?:is|are) (?:the )?(?:bn|batch ?norm\w*)(?: layers?)? "
              r"(?:necessary|needed|required|essential)"),
        (2.5, r"(?:don'?t|didn'?t|did not|do not|not|never) (?:\w+ )?(?:use|using|include|add|"
              r"apply)\w* (?:any )?(?:norm|normali[sz]ation) layers?\b"),
        # Not a gradient through the batch statistics: that is gamma_beta_undo's detached arm.
        (1.5, r"gradient (?:propagation|flow)(?!\w* through (?:the )?(?:batch |bn )?"
              r"(?:statistics|stats|mean|variance))|deeper networks?|\bresnets?\b.{0,40}without"),
        (3.0, r"(?:vanish|explod)\w* (?:and (?:vanish|explod)\w* )?gradients?|gradients? "
              r"(?:\w+ ){0,2}(?:vanish|explod|blow|shrink|die|dying)\w*|gradient explosion"),
        (1.5, r"\bdeep(?:er)? (?:\w+ )?(?:nets?|networks?|models?|mlps?)|very deep|many layers|"
              r"\d+[ -]?layers?\b|\bdepth\b"),
        (1.5, r"(?:at|during|after) init\w*|\binit\b"),
        (1.5, r"gradients? (?:norms?|magnitudes?|flow(?!\w* through (?:the )?(?:batch |bn )?"
              r"(?:statistics|stats|mean|variance))|scale)|magnitude of (?:the )?gradients?|"
              r"gradient (?:\w+ )?per layer"),
        (1.5, r"jacobians?|singular values"),
        (1.0, r"(?:early|first|last|lower|top|earlier) layers?|each layer|per layer|"
              r"layer by layer|backward pass"),
        (1.0, r"(?:fail|hard|impossible|unable)\w* to train|train\w* (?:very )?deep"),
        (0.5, r"gradients?"),
    ],
    "train_eval_gap": [
        # Real posts: frozen BN when fine-tuning, trainable/training flags, moving statistics.
        (2.0, r"\bfreez\w*|\bfrozen\b|\bunfreez\w*|trainable ?=? ?false|training ?= ?false|"
              r"is[_ ]?training|use[_ ]global[_ ]stats|norm[_ ]eval|fine ?tun\w*"),
        # TensorFlow 1's BN updates its moving statistics only through the UPDATE_OPS collection.
        (2.5, r"\bupdate ?ops\b|\bupdates? ?collections?\b|\bcontrol ?dependencies\b"),
        (1.5, r"moving[ _](?:mean|var\w*|average|stat\w*)|running[ _](?:mean|var\w*|stat\w*)|"
              r"population (?:mean|stat\w*)|(?:batch ?norm\w*|bn) (?:stat\w*|parameters? "
              r"(?:are|is) (?:not )?updat)|statistics (?:are |is )?(?:not )?updat\w*"),
        (1.5, r"\b(?:predict\w*|inference|deploy\w*|testing|test (?:phase|set|stage)|"
              r"evaluat\w*)\b"),
        (1.0, r"domain adaptation|different (?:results|outputs|predictions)|inconsistent"),
        # Adapting BN's statistics to a new domain (AdaBN, domain-specific BN, test-time
        # adaptation): which statistics the layer uses where.
        (2.0, r"\badabn\b|\bdsbn\b|(?:source|target) domain|adaptation (?:stage|phase|step)|"
              r"test ?time adaptation"),
        (3.0, r"(?:eval|evaluation|inference|test) mode|\.?eval ?\(\)|model\.eval"),
        (1.5, r"train(?:ing)? mode|\.?train ?\(\)"),
        (1.5, r"(?:worse|lower|drops?|terrible|bad|garbage|awful|poor)\w*.{0,40}(?:eval|inference|"
              r"test(?: |-)?time|validation)|(?:inference|eval\w*) (?:is|gives?) (?:\w+ )?"
              r"(?:garbage|worse|terrible|awful|bad)"),
        (1.5, r"running (?:mean|var\w*|stat\w*|average)"),
        (2.0, r"track running stats|\bstale\b|out of date"),
        (1.5, r"momentum"),
        (2.0, BN + r"(?:'s)? momentum|"
              r"momentum (?:of|in|for) (?:the )?(?:bn|batch ?norm\w*|running)"),
        (1.5, r"(?:fine ?tun\w*|freez\w*|frozen)"),
        (1.0, r"train(?:ing)? (?:and|vs|versus) (?:eval\w*|test\w*|inference)|between training "
              r"and (?:eval\w*|test\w*)|gap between"),
        (2.0, r"precise ?bn|recalibrat\w*|recomput\w*"),
        # Caffe's BatchNorm with lr_mult 0: its statistics are not learned by the optimizer.
        (3.0, r"\blr mults?(?: (?:\w+ ){0,5}(?:is |are |set to |= ?)|:? ?)0\b"),
        (1.5, r"sorted by class|class sorted|non ?iid|not shuffled"),
        (1.0, r"same (?:input|data|image|batch)|different outputs"),
        (1.0, r"test ?time"),
        (2.0, r"train\w* (?:accuracy|acc|loss|mode).{0,80}(?:inference|eval\w*|test\w*|validation)|"
              r"(?:inference|eval\w*|test\w*|validation).{0,80}train\w* (?:accuracy|acc|mode)"),
        (2.0, r"\beval\w* (?:accuracy|acc|performance|loss|results?|outputs?)|"
              r"(?:inference|eval\w*) (?:time|phase)"),
        (1.0, r"(?:don'?t|doesn'?t|not) match|mismatch\w*"),
        # The running statistics as used at test time, and testing on one sample at a time:
        # how BN behaves in eval mode, whatever the training batch size.
        (2.0, r"(?:\btest\w*|inference|predict\w*|\beval\w*).{0,80}" + RUNNING + r" (?:\w+ )?"
              + STATS + r"|" + RUNNING + r" (?:\w+ )?" + STATS + r".{0,80}(?:\btest\w*|inference|"
              r"predict\w*|\beval\w*)"),
        (2.5, r"(?:\btest\w*|inference|predict\w*|\beval\w*) (?:with|on|using|at|for) (?:a |only )?"
              r"(?:batch ?size (?:of |= ?)?(?:1|one)\b|(?:one|a single|1|single) (?:data point|"
              r"sample|image|example|input)s?\b)"),
        # How BN behaves at test or inference time.
        (2.5, r"(?:bn|batch ?norm\w*)(?: layers?)? (?:at|during|in|for) (?:the )?(?:test|testing|"
              r"inference|evaluation|prediction)(?: time| phase| stage)?\b"),
    ],
    "dropout_interaction": [
        # "drop out" spelled apart counts; "didn't use dropout", "neither BN nor dropout" are
        # negated mentions (a post asking why a model has neither is about needing BN).
        (3.5, r"(?<!\bno )(?<!without )(?<!not using )(?<!without any )(?<!n't use )"
              r"(?<!not use )(?<!\bnor )(?<!neither )(?<!n't use any )(?:dropout|drop out\b)"),
        (2.0, r"variance shift"),
        (0.5, r"regulari[sz]ers?"),
    ],
    "weight_decay": [
        (1.5, r"(?:no|without|exclud\w*|skip\w*|remov\w*) (?:the )?(?:weight )?decay|"
              r"decay for (?:the )?(?:bn|batch ?norm|norm)"),
        # L2 normalization of embeddings or an L2 distance is no weight penalty.
        (3.5, r"weight decay|\bwd\b|\bl2\b(?! ?(?:normali[sz]\w*|norm\b|distance))|"
              r"weight penalt\w*"),
        (2.0, r"scale ?invarian\w*|(?:scale|norm) of (?:the|their|its) weights|"
              r"penali[sz]\w* (?:their|the|its) norm"),
        (2.0, r"effective (?:learning rate|\blr\b|step)"),
        (1.5, r"(?:weight|its|their) norms? (?:\w+ ){0,2}(?:grow|shrink|evolv|increas)\w*|"
              r"norm of (?:my|the) weights"),
        (1.5, r"\badamw\b|decoupled|\bdecay\b"),
        (2.0, r"regulari[sz]\w* (?:the |my |its |their )?(?:conv |linear |dense |layer )?weights|"
              r"\bweight norms?\b"),
        # Decay or an L2 penalty on BN's own parameters (gamma, beta, the norm layers).
        (2.5, r"(?:weight decay|\bl2\b|regulari[sz]\w*|penalt\w*) (?:\w+ ){0,4}(?:on|to|for|of|"
              r"from) (?:the )?(?:\w+ (?:and|or) )?(?:bn|batch ?norm\w*|norm\w*|gamma|beta|scale|"
              r"shift)|"
              r"(?:gamma|beta)[ _]regulari[sz]er"),
    ],
    "bias_redundancy": [
        (3.0, r"\bbias(?:es)?\b"),
        (1.5, r"bias ?= ?false|\bno (?:bias|\+ ?b)\b"),
        (1.5, r"(?:drop|remov|disabl|skip|omit|turn\w* off|keep)\w* (?:the )?(?:\w+ )?bias|bias"
              r"\w* (?:\w+ ){0,3}(?:redundant|useless|unnecessary|pointless|wasted|needed|"
              r"necessary|matter)"),
        (1.5, r"\+ ?b\b|constant offset"),
        (1.0, r"mean subtraction|subtract\w* the mean"),
    ],
    "norm_comparison": [
        # Real posts: BN in RNNs, GAN discriminators and transformers; other norms instead.
        (2.0, r"recurrent|\brnn|\blstm|\bgru\b|discriminator|generator|attention|"
              r"instance ?norm\w*|layer ?norm\w*|group ?norm\w*|\bgn\b|\bln\b|\bin\b(?= layer)"),
        (3.0, r"layer ?norm\w*|group ?norm\w*|instance ?norm\w*|rms ?norm\w*|"
              r"weight normali[sz]\w*"),
        (1.0, r"\b(?:vs|versus|compared? (?:to|with)|comparison|comparing|instead of|"
              r"alternatives?|pros and cons|difference between|differences?)\b"),
        (2.0, r"which (?:normali[sz]ation|norm)|(?<!batch )normali[sz]ation (?:methods?|layers?|"
              r"schemes?|techniques?)|normali[sz]ations\b"),
        (1.5, r"transformers?|\brnns?\b|\blstms?\b|\bnlp\b"),
        (1.0, r"(?:don'?t|do not|never|rarely) use (?:bn\b|batch ?norm)"),
        (2.0, r"(?:layer|group|instance|rms|batch) ?norm\w* (?:or|vs|versus|and|over) (?:\w+ )?"
              r"(?:layer|group|instance|rms|batch) ?norm"),
        (2.0, r"unlike (?:bn|batch ?norm\w*)|(?:other|another|different|a) normali[sz]ation "
              r"(?:that|which|methods?|layers?)"),
        (1.5, r"(?:don'?t|do not|doesn'?t) depend on the batch|batch independent|"
              r"independent of the batch"),
    ],
}


def compile_weighted(pairs: list[tuple[float, str]]) -> list[tuple[float, re.Pattern]]:
    return [(weight, re.compile(pattern)) for weight, pattern in pairs]


COMPILED = {type_id: compile_weighted(pairs) for type_id, pairs in TYPE_PATTERNS.items()}
