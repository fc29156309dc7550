"""The literature bnlab cites, by key; question types list the keys they rely on."""

from __future__ import annotations

from .result import Reference

_ALL = [
    Reference("ioffe2015", "Batch Normalization: Accelerating Deep Network Training by Reducing "
              "Internal Covariate Shift (Ioffe & Szegedy)", 2015,
              "https://arxiv.org/abs/1502.03167"),
    Reference("ioffe2017", "Batch Renormalization: Towards Reducing Minibatch Dependence in "
              "Batch-Normalized Models (Ioffe)", 2017, "https://arxiv.org/abs/1702.03275"),
    Reference("wu2018", "Group Normalization (Wu & He)", 2018,
              "https://arxiv.org/abs/1803.08494"),
    Reference("wu2021", "Rethinking \"Batch\" in BatchNorm (Wu & Johnson)", 2021,
              "https://arxiv.org/abs/2105.07576"),
    Reference("yan2020", "Towards Stabilizing Batch Statistics in Backward Propagation of Batch "
              "Normalization (Yan et al.)", 2020, "https://arxiv.org/abs/2001.06838"),
    Reference("santurkar2018", "How Does Batch Normalization Help Optimization? (Santurkar, "
              "Tsipras, Ilyas & Madry)", 2018, "https://arxiv.org/abs/1805.11604"),
    Reference("goodfellow2016", "Deep Learning, Section 8.7.1 Batch Normalization (Goodfellow, "
              "Bengio & Courville)", 2016, "https://www.deeplearningbook.org/contents/optimization.html"),
    Reference("hoffer2017", "Train longer, generalize better: closing the generalization gap in "
              "large batch training of neural networks (Hoffer, Hubara & Soudry)", 2017,
              "https://arxiv.org/abs/1705.08741"),
    Reference("summers2020", "Four Things Everyone Should Know to Improve Batch Normalization "
              "(Summers & Dinneen)", 2020, "https://arxiv.org/abs/1906.03548"),
    Reference("luo2019", "Towards Understanding Regularization in Batch Normalization (Luo, "
              "Wang, Shao & Peng)", 2019, "https://arxiv.org/abs/1809.00846"),
    Reference("laarhoven2017", "L2 Regularization versus Batch and Weight Normalization "
              "(van Laarhoven)", 2017, "https://arxiv.org/abs/1706.05350"),
    Reference("frankle2021", "Training BatchNorm and Only BatchNorm: On the Expressive Power of "
              "Random Features in CNNs (Frankle, Schwab & Morcos)", 2021,
              "https://arxiv.org/abs/2003.00152"),
    Reference("teye2018", "Bayesian Uncertainty Estimation for Batch Normalized Deep Networks "
              "(Teye, Azizpour & Smith)", 2018, "https://arxiv.org/abs/1802.06455"),
    Reference("ba2016", "Layer Normalization (Ba, Kiros & Hinton)", 2016,
              "https://arxiv.org/abs/1607.06450"),
    Reference("ulyanov2016", "Instance Normalization: The Missing Ingredient for Fast "
              "Stylization (Ulyanov, Vedaldi & Lempitsky)", 2016,
              "https://arxiv.org/abs/1607.08022"),
    Reference("li2020", "An Exponential Learning Rate Schedule for Deep Learning (Li & Arora)",
              2020, "https://arxiv.org/abs/1910.07454"),
    Reference("li2019", "Understanding the Disharmony between Dropout and Batch Normalization "
              "by Variance Shift (Li, Chen, Hu & Yang)", 2019, "https://arxiv.org/abs/1801.05134"),
    Reference("greydanus2020", "Scaling down Deep Learning with MNIST-1D (Greydanus & Kobak)",
              2020, "https://arxiv.org/abs/2011.14439"),
    Reference("he2016", "Identity Mappings in Deep Residual Networks (He, Zhang, Ren & Sun)",
              2016, "https://arxiv.org/abs/1603.05027"),
    Reference("mishkin2017", "Systematic evaluation of CNN advances on the ImageNet (Mishkin, "
              "Sergievskiy & Matas)", 2017, "https://arxiv.org/abs/1606.02228"),
    Reference("bjorck2018", "Understanding Batch Normalization (Bjorck, Gomes, Selman & "
              "Weinberger)", 2018, "https://arxiv.org/abs/1806.02375"),
    Reference("yang2019", "A Mean Field Theory of Batch Normalization (Yang, Pennington, Rao, "
              "Sohl-Dickstein & Schoenholz)", 2019, "https://arxiv.org/abs/1902.08129"),
    Reference("he2015", "Delving Deep into Rectifiers: Surpassing Human-Level Performance on "
              "ImageNet Classification (He, Zhang, Ren & Sun)", 2015,
              "https://arxiv.org/abs/1502.01852"),
    Reference("de2020", "Batch Normalization Biases Residual Blocks Towards the Identity "
              "Function in Deep Networks (De & Smith)", 2020, "https://arxiv.org/abs/2002.10444"),
    Reference("brock2021", "High-Performance Large-Scale Image Recognition Without "
              "Normalization (Brock, De, Smith & Simonyan)", 2021,
              "https://arxiv.org/abs/2102.06171"),
    Reference("kingma2015", "Adam: A Method for Stochastic Optimization (Kingma & Ba)", 2015,
              "https://arxiv.org/abs/1412.6980"),
]

REFERENCES: dict[str, Reference] = {r.key: r for r in _ALL}


def cite(*keys: str) -> list[Reference]:
    return [REFERENCES[k] for k in keys]
